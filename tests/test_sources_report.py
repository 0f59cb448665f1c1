"""The daily "broken or stale sources" e-mail, sent through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy

import pytest

from awareness.service import polling
from awareness.service.source_report import send_source_report
from awareness.sources.health_mail import message_text, problems
from awareness.storage.models import Source
from tests.conftest import orm_writing

OWNER = "sources.owner@library.example.nhs.uk"


def row(**values):
    base = {"id": "s", "name": "S", "publisher": "P", "url": "https://example.org/",
            "enabled": True, "state": "active", "error_count": 0, "last_error": None,
            "last_success_at": None, "stale": False, "duplicate_of": None,
            "newest_item_at": None, "items_per_week": 0.0}
    return base | values


def test_only_sources_needing_a_person_are_reported():
    rows = [row(id="ok"), row(id="off", enabled=False, state="broken"),
            row(id="broken", state="broken", error_count=9, last_error="timeout after 60 s",
                last_success_at="2026-11-20T07:00:00+00:00"),
            row(id="gone", state="gone"), row(id="dup", duplicate_of="ok"),
            row(id="quiet", stale=True, newest_item_at="2026-09-01T00:00:00+00:00",
                items_per_week=2.5)]
    found = problems(rows)
    assert [r["id"] for r, _ in found] == ["broken", "gone", "dup", "quiet"]
    reasons = dict((r["id"], reason) for r, reason in found)
    assert reasons["broken"] == ("broken: 9 failed checks in a row, last success 2026-11-20; "
                                 "last error: timeout after 60 s")
    assert reasons["quiet"].startswith("stale: no new item since 2026-09-01 (usually about "
                                       "2.5 a week)")
    subject, body = message_text(found, day="2026-11-25")
    assert subject == "4 sources need attention (2026-11-25)"
    assert "awareness sources test ID" in body


@pytest.fixture
def site(make_context, feed_server, smtp_server, tmp_path):
    controller, inbox = smtp_server
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    (subs / "sources.toml").write_text("".join(
        f'[[source]]\nid = "{sid}"\nname = "Source {sid}"\npublisher = "P"\nkind = "feed"\n'
        f'url = "{feed_server.url("/" + sid)}"\n\n' for sid in ("a", "b")), encoding="utf-8")

    def make(**extra: str):
        ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs), AWARENESS_MAIL_BACKEND="smtp",
                           AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                           AWARENESS_MAIL_SMTP_PORT=str(controller.port), **extra)
        polling.sync_sources(ctx)
        return ctx
    return make, inbox


def break_source(ctx, source_id: str) -> None:
    with orm_writing(ctx) as session:
        source = session.get_one(Source, source_id)
        source.state, source.error_count = "broken", 8
        source.last_error = "blocked by bot protection (403)"


def test_one_message_a_day_to_the_owner(site, clock):
    make, inbox = site
    ctx = make(AWARENESS_SOURCES_OWNER_EMAIL=OWNER)
    assert send_source_report(ctx).status == "nothing to report"
    break_source(ctx, "a")
    report = send_source_report(ctx)
    assert (report.status, report.sources) == ("sent", ("a",))
    [(_, recipients, raw)] = inbox.messages
    assert recipients == [OWNER]
    message = email.message_from_bytes(raw, policy=email.policy.strict)
    assert message["Subject"] == f"1 source needs attention ({report.day})"
    text = message.get_body(("plain",)).get_content()
    assert "Source a (a, P)" in text and "blocked by bot protection (403)" in text
    assert "Source b" not in text

    assert send_source_report(ctx).status == "already sent"  # a rerun the same day
    assert len(inbox.messages) == 1
    clock.advance(days=1)
    assert send_source_report(ctx).status == "sent"
    assert len(inbox.messages) == 2


def test_no_owner_no_mail(site):
    make, inbox = site
    ctx = make()
    break_source(ctx, "a")
    assert send_source_report(ctx).status == "no owner"
    assert inbox.messages == []


def test_a_refused_message_is_tried_again_on_the_next_run(site, clock):
    make, inbox = site
    ctx = make(AWARENESS_SOURCES_OWNER_EMAIL=OWNER)
    break_source(ctx, "b")
    inbox.refuse[OWNER] = "450 mailbox busy"
    report = send_source_report(ctx)
    assert report.status == "retrying" and "450" in (report.error or "")
    del inbox.refuse[OWNER]
    assert send_source_report(ctx).status == "retrying"  # its back-off: 5 minutes
    clock.advance(minutes=6)
    assert send_source_report(ctx).status == "sent"
    assert len(inbox.messages) == 1
