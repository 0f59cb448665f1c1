"""The page every HTML mail is drawn on (templates/mail/frame.html): each mail's HTML comes
from that one frame, so that a fix to it reaches them all, and the account mails as a reader
gets them, byte for byte (golden)."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path

import jinja2
from jinja2 import FileSystemLoader

from awareness.digests.render import make_environment
from awareness.drivers.members import Member
from awareness.drivers.views import Reason
from awareness.mail.account import (
    CONFIRM,
    DATA_LINK,
    SIGN_IN,
    WELCOME,
    ChosenTopic,
    render_account_mail,
)
from awareness.mail.compose import Mail, Sender
from awareness.precision import Decisions, Precision
from awareness.service.checks import check_all
from awareness.service.stewardship import Attention, Steward, render_stewardship
from awareness.settings import load_settings
from tests import test_bulletins as bulletins
from tests import test_digest_render as digests
from tests.test_digest_render import normalise

ROOT = Path(__file__).parent.parent
TEMPLATES = ROOT / "templates"
GOLDEN_WELCOME = ROOT / "tests" / "data" / "golden-welcome.eml"
PAGES = ("web/", "report/")  # web pages, not mail
FRAME = "mail/frame.html"
SENDER = Sender("awareness@trust.nhs.uk", "Library and Knowledge Service")
NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
PREFERENCES = "https://library.example.nhs.uk/preferences/" + "Tk9" * 20


class Recording(FileSystemLoader):
    """A loader that remembers the name of every template it was asked for."""

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.loaded: set[str] = set()

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str | None, object]:
        self.loaded.add(template)
        return super().get_source(environment, template)


def account_mail(env: jinja2.Environment, kind: str = WELCOME,
                 to: str = "alice.smith@trust.nhs.uk", action: str = "download") -> Mail:
    """An account mail with a topic and the bulletins (every line the template can have)."""
    return render_account_mail(
        env, kind, sender=SENDER, to=to,
        library="Northshire Library and Knowledge Service",
        choices=[ChosenTopic("Leadership & management", "weekly")], bulletins=True,
        message_id="<welcome.1@trust.nhs.uk>", now=NOW, preferences_url=PREFERENCES,
        confirm_url="https://library.example.nhs.uk/confirm/t",
        manage_url="https://library.example.nhs.uk/manage",
        data_url="https://library.example.nhs.uk/your-data/t", action=action)


def stewardship_mail(env: jinja2.Environment, steward: Steward | None = None) -> Mail:
    """A member's weekly list; ``steward`` says what they can do on the site (none: they
    have no login)."""
    entry = Attention("people-plan", "Interim NHS People Plan", "AS", date(2026, 11, 1),
                      (Reason("review was due on 1 November 2026"),
                       Reason("new edition", "NHS People Plan 2026", "https://x.example/p")))
    low = Precision("leadership", "Leadership", Decisions(1, 9), Decisions(3, 17), "", True)
    return render_stewardship(
        env, Member("AS", "Alice Smith", "alice.smith@trust.nhs.uk"), [entry], sender=SENDER,
        base_url="https://library.example.nhs.uk", message_id="<stewardship.1@trust.nhs.uk>",
        now=NOW, week="2026-W48", low_precision=[low], library="Northshire LKS",
        steward=steward)


def every_html_mail(templates: Path) -> tuple[dict[str, str], set[str]]:
    """The HTML part of every kind of mail with an HTML part, by kind, rendered from
    ``templates``; and the names of the templates that rendering read."""
    loader = Recording(templates)
    env = make_environment(loader)
    mails = {
        "digest": digests.render(env),
        "bulletin": bulletins.issue_mail(bulletins.an_issue(), env=env),
        "stewardship": stewardship_mail(env),
    } | {kind: account_mail(env, kind) for kind in (CONFIRM, WELCOME, SIGN_IN, DATA_LINK)}
    return {kind: digests.parts(mail)[1] for kind, mail in mails.items()}, loader.loaded


def mail_templates() -> set[str]:
    return {p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")
            if not p.relative_to(TEMPLATES).as_posix().startswith(PAGES)}


def test_only_the_frame_writes_the_page():
    """A mail that wrote its own doctype, head or body would not get a fix to the frame."""
    page = re.compile(r"<!DOCTYPE|<html|<head|<body|\[if mso\]", re.I)
    writing = {name for name in mail_templates()
               if page.search((TEMPLATES / name).read_text(encoding="utf-8"))}
    assert writing == {FRAME}


def test_a_change_to_the_frame_reaches_every_mail(tmp_path: Path):
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    frame = tmp_path / "templates" / FRAME
    head = '<meta name="x-apple-disable-message-reformatting">\n'
    marker = '<meta name="frame-changed" content="yes">\n'
    text = frame.read_text(encoding="utf-8")
    assert head in text
    frame.write_text(text.replace(head, head + marker), encoding="utf-8")

    mails, loaded = every_html_mail(tmp_path / "templates")
    # Every HTML mail template is among those rendered here, so none is left unchecked.
    assert mail_templates() <= loaded
    for kind, html in mails.items():
        assert html.count(marker.strip()) == 1, kind


def test_every_mail_keeps_outlooks_rules():
    """Outlook on Windows draws with Word: it ignores max-width and <style>, so the column
    is its own 600px table in conditional comments, the page is at 96 dpi, and the frame's
    colours are attributes as well as inline styles."""
    mails, _ = every_html_mail(TEMPLATES)
    for kind, html in mails.items():
        assert '<o:PixelsPerInch>96</o:PixelsPerInch>' in html, kind
        assert ('<!--[if mso]><table role="presentation" width="600" cellpadding="0" '
                'cellspacing="0" border="0" align="center"><tr><td><![endif]-->') in html, kind
        assert "<!--[if mso]></td></tr></table><![endif]-->" in html, kind
        assert re.search(r'<body style="margin: ?0;padding: ?0;background-color: ?#f0f4f5;?"',
                         html), kind
        card = re.search(r'<table [^>]*bgcolor="#ffffff"[^>]*>', html)
        assert card and re.search(r"max-width: ?600px", card.group(0)), kind


def test_check_names_a_templates_folder_without_the_frame(tmp_path: Path):
    """A library's own templates folder, copied before the frame existed, would fail at the
    first digest; `awareness check` says so first."""
    (tmp_path / "subscriptions").mkdir()
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    (tmp_path / "templates" / FRAME).unlink()
    errors, _ = check_all(load_settings(environ={}, cwd=tmp_path))
    assert f"{tmp_path / 'templates' / FRAME}: missing template" in errors


def test_golden_welcome():
    """Why: the account mails (confirmation, welcome, sign-in link, data link) and the
    stewardship list share their layout; one of them byte for byte makes a change to it, or
    to the mail frame, show up in review as a diff of this file."""
    actual = normalise(account_mail(make_environment(FileSystemLoader(TEMPLATES))).data)
    if os.environ.get("AWARENESS_UPDATE_GOLDEN") == "1":
        GOLDEN_WELCOME.write_text(actual, encoding="ascii", newline="\n")
    assert actual == GOLDEN_WELCOME.read_text(encoding="ascii")


PREVIEW = re.compile(r'<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">'
                     r"([^<]*)</div>")


def previews(mail: Mail) -> list[str]:
    """The preview lines of a mail's HTML part, as an inbox shows them."""
    return [unescape(line) for line in PREVIEW.findall(digests.parts(mail)[1])]


def test_every_account_mail_has_an_inbox_preview_line():
    """Beside the subject an inbox shows the mail's first words; without a preview line of
    its own an account mail showed "Northshire Library and Knowledge Service Confirm your
    digests Someone, probably you…". Each says in a sentence what it asks or tells."""
    env = make_environment(FileSystemLoader(TEMPLATES))
    expected = {
        CONFIRM: "Open the link and press Confirm: nothing is sent until you do, and the link "
                 "works for 7 days.",
        WELCOME: "You are now subscribed to current awareness digests and the library's "
                 "bulletins; keep this message for the link to manage them.",
        SIGN_IN: "Open the link inside to change what you get, pause it or unsubscribe; "
                 "nothing has changed if you did not ask for it.",
        DATA_LINK: "Open the link within an hour to download your data; if you did not ask "
                   "for it, ignore this message.",
    }
    for kind, line in expected.items():
        mail = account_mail(env, kind)
        assert previews(mail) == [line], kind
        assert line not in digests.parts(mail)[0], kind  # hidden: not in the text part
    assert previews(account_mail(env, DATA_LINK, action="erase")) == [
        "Open the link within an hour to erase your data; if you did not ask for it, ignore "
        "this message."]
    bulletins_only = render_account_mail(
        env, WELCOME, sender=SENDER, to="alice.smith@trust.nhs.uk", library="Northshire LKS",
        choices=[], bulletins=True, message_id="<welcome.2@trust.nhs.uk>", now=NOW,
        preferences_url=PREFERENCES)
    assert previews(bulletins_only) == [
        "You are now subscribed to the library's bulletins; keep this message for the link "
        "to manage them."]
