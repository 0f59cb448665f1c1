"""The mails of a subscriber's account as a reader gets them, byte for byte (golden)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import FileSystemLoader

from awareness.digests.render import make_environment
from awareness.mail.account import WELCOME, ChosenTopic, render_account_mail
from awareness.mail.compose import Mail, Sender
from tests.test_digest_render import normalise

ROOT = Path(__file__).parent.parent
GOLDEN_WELCOME = ROOT / "tests" / "data" / "golden-welcome.eml"


def welcome(templates: Path = ROOT / "templates") -> Mail:
    """A welcome mail with a topic and the bulletins (every line the template can have)."""
    return render_account_mail(
        make_environment(FileSystemLoader(templates)), WELCOME,
        sender=Sender("awareness@trust.nhs.uk", "Library and Knowledge Service"),
        to="alice.smith@trust.nhs.uk", library="Northshire Library and Knowledge Service",
        choices=[ChosenTopic("Leadership & management", "weekly")], bulletins=True,
        message_id="<welcome.1@trust.nhs.uk>", now=datetime(2026, 11, 26, 7, 0, tzinfo=UTC),
        preferences_url="https://library.example.nhs.uk/preferences/" + "Tk9" * 20)


def test_golden_welcome():
    """Why: the account mails (confirmation, welcome, sign-in link) and the stewardship
    list share their layout; one of them byte for byte makes a change to it, or to the
    mail frame, show up in review as a diff of this file."""
    actual = normalise(welcome().data)
    if os.environ.get("AWARENESS_UPDATE_GOLDEN") == "1":
        GOLDEN_WELCOME.write_text(actual, encoding="ascii", newline="\n")
    assert actual == GOLDEN_WELCOME.read_text(encoding="ascii")
