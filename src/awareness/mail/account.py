"""The mails of a subscriber's account: confirm a sign-up, welcome, a link to manage
digests (pure; issue 12), a link to download or erase their data (``data_links``).

Each is transactional: sent because the person (or a librarian for them) just did something,
so it carries no List-Unsubscribe header, and every one but the confirmation carries the
link to the preference centre. They go through the outbox like every message, each kind under
its own de-duplication key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from awareness.mail.compose import Mail, Sender, compose, key_parts, message_id

if TYPE_CHECKING:
    import jinja2

# Keys: <sign-up or subscriber id>/<a random nonce>. Each request is one mail, so there is
# nothing to de-duplicate beyond the request itself; the nonce keeps two requests apart even
# when a database gives a deleted sign-up's id to the next one (SQLite does).
CONFIRM = "signup_confirm"
WELCOME = "welcome"
SIGN_IN = "sign_in_link"
# Key: <subscriber id>/<action>/<the ten minutes it was asked in> (mail.outbox.data_link_key).
DATA_LINK = "data_link"
TEMPLATES = {CONFIRM: "confirm", WELCOME: "welcome", SIGN_IN: "sign_in", DATA_LINK: "data_link"}


@dataclass(frozen=True)
class ChosenTopic:
    """A topic as an account mail names it: its title, not its file name."""

    title: str
    frequency: str


def account_key(subject_id: int, nonce: str) -> str:
    """The outbox key of an account mail: what it is about, and the request's nonce."""
    return f"{int(subject_id)}/{nonce}"


def account_message_id(kind: str, key: str, domain: str) -> str:
    """Our Message-ID for an account mail (``key`` made safe for the left-hand side)."""
    return message_id(kind.replace("_", "-"), *key_parts(key), domain=domain)


def render_account_mail(env: jinja2.Environment, kind: str, *, sender: Sender, to: str,
                        library: str, choices: Sequence[ChosenTopic], message_id: str,
                        now: datetime, confirm_url: str = "", preferences_url: str = "",
                        manage_url: str = "", bulletins: bool = False, data_url: str = "",
                        action: str = "") -> Mail:
    """One account mail to ``to`` as ``multipart/alternative``. Every one carries a way to
    the preference centre: ``preferences_url`` (the person's own), or for a confirmation,
    which goes to an address not yet known to be theirs, ``manage_url`` (the page that mails
    that link). ``bulletins``: the library's bulletins are among what is asked for or sent.
    A data link's mail carries ``data_url``, which does ``action`` (``data_links``)."""
    name = TEMPLATES[kind]
    values = {"library": library, "address": to, "choices": list(choices),
              "confirm_url": confirm_url, "preferences_url": preferences_url,
              "manage_url": manage_url, "bulletins": bulletins, "data_url": data_url,
              "action": action}
    return compose(
        sender=sender, to=to, message_id=message_id, date=now,
        subject=env.get_template(f"account/{name}.subject.txt").render(values).strip(),
        text=env.get_template(f"account/{name}.txt").render(values) + "\n",
        html=env.get_template(f"account/{name}.html").render(values) + "\n")
