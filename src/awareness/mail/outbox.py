"""The outbox as the rest of the service sees it (pure): what is queued, claimed, unsent.

Every message goes through one outbox (issue 11). A message is queued under its *kind* and a
de-duplication *key* unique within the kind, so that a rerun queues nothing twice:

    digest           ``<subscriber id>/<period>``, e.g. ``42/weekly:2026-W48``
    stewardship      ``<member initials>/<ISO week>``, e.g. ``FG/2026-W48``
    sources_report   ``<local day>``, e.g. ``2026-11-26``
    bulletin         ``<bulletin>/<issue number>/<recipient>``, e.g. ``workforce/12/s42``
    bulletin_reminder ``<bulletin>/<issue number>/<librarian>``

and the account mails of ``mail/account.py`` (confirmation, welcome, sign-in link) add their
own. A row is ``pending``
until a relay claims it (``sending``), then ``sent`` once the server accepted it, or
``failed`` when the relay gave up. A claim that outlives its lease — the relay died between
the server's 250 and marking the row — is claimed again and sent once more with the same
Message-ID (RELIABILITY.md E3: at least once).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from awareness.mail.compose import Mail

DIGEST = "digest"
STEWARDSHIP = "stewardship"
SOURCES_REPORT = "sources_report"
UNSENT = ("pending", "sending")  # still to be sent; "sent" and "failed" are final


def digest_key(subscriber_id: int, period_key: str) -> str:
    """The de-duplication key of a subscriber's digest for a period."""
    return f"{int(subscriber_id)}/{period_key}"


def stewardship_key(initials: str, week: str) -> str:
    """The de-duplication key of a member's stewardship list for an ISO week."""
    return f"{initials}/{week}"


@dataclass(frozen=True)
class Queued:
    """A message to write to the outbox; ``subscriber_id`` when it is for a subscriber (so
    that erasing them removes it)."""

    kind: str
    key: str
    mail: Mail
    subscriber_id: int | None = None


@dataclass(frozen=True)
class Claimed:
    """A row a relay has claimed to send: ``attempts`` counts this one; ``resent`` when an
    earlier claim ran out (the message may already have been delivered once)."""

    id: int
    kind: str
    key: str
    mail: Mail
    attempts: int
    created_at: datetime
    subscriber_id: int | None
    resent: bool


@dataclass(frozen=True)
class Stored:
    """A message the outbox holds, as an export shows it; ``items`` are the titles a digest
    carried."""

    kind: str
    key: str
    status: str
    message_id: str
    created_at: datetime
    sent_at: datetime | None
    items: tuple[str, ...]


@dataclass(frozen=True)
class Unsent:
    """A message not sent yet (or given up): its kind, status and last error."""

    kind: str
    status: str
    reason: str | None


def unsent_lines(rows: Iterable[Unsent]) -> list[str]:
    """One line per kind saying how many messages are unsent and why, most common reason
    first: ``digest: 3 unsent (2 to retry, 1 failed); 2× SMTP server refused recipient: …``."""
    by_kind: dict[str, list[Unsent]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row)
    return [_line(kind, by_kind[kind]) for kind in sorted(by_kind)]


def _line(kind: str, rows: list[Unsent]) -> str:
    failed = sum(row.status == "failed" for row in rows)
    states = [f"{len(rows) - failed} to retry"] if len(rows) > failed else []
    states += [f"{failed} failed"] if failed else []
    reasons = Counter(row.reason or "not tried yet" for row in rows).most_common()
    why = "; ".join(f"{count}× {reason}" for reason, count in reasons[:3])
    more = f"; {len(reasons) - 3} other reasons" if len(reasons) > 3 else ""
    return f"{kind}: {len(rows)} unsent ({', '.join(states)}); {why}{more}"


BULLETIN = "bulletin"
BULLETIN_TEST = "bulletin_test"
BULLETIN_REMINDER = "bulletin_reminder"


def bulletin_key(bulletin: str, number: int, recipient: str) -> str:
    """The de-duplication key of one recipient's copy of an issue: ``s<id>`` for a
    subscriber, ``a<hash>`` for a fixed address (``recipient``), so that each gets one copy."""
    return f"{bulletin}/{int(number)}/{recipient}"
