"""Sending digests through the outbox: never twice per period, never lost (RELIABILITY E1-E5).

A real SMTP server (aiosmtpd) on loopback; the database is SQLite and, when configured,
PostgreSQL.
"""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from awareness.mail.backends import SmtpBackend
from awareness.service import digests, people, roster
from awareness.service.outbox import LEASE
from awareness.storage.models import Item, Match, Source
from awareness.storage.models import OutboxMessage as Outbox
from tests.conftest import orm_session, orm_writing


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the service catches it."""


class CrashAfterAccept:
    """Sends for real, then dies before the service can mark the delivery sent (E3)."""

    def __init__(self, real: SmtpBackend):
        self.real = real

    def open(self):
        return self

    def send(self, mail):
        self.real.send(mail)
        raise Crash

    def close(self):
        pass


class CrashBeforeSend:
    def open(self):
        return self

    def send(self, mail):
        raise Crash

    def close(self):
        pass


def add_match(ctx, title: str, *, status: str = "approved", topic: str = "leadership") -> int:
    now = ctx.now()
    with orm_writing(ctx) as session:
        if session.get(Source, "src") is None:
            session.add(Source(id="src", name="NHS England news", publisher="NHS England",
                               url="https://www.england.nhs.uk/news/feed/", kind="feed"))
        item = Item(source_id="src", key=f"link:{title}", title=title,
                    link=f"https://www.england.nhs.uk/{abs(hash(title))}/",
                    summary_text="Summary.", first_seen_at=now, published_at=now)
        session.add(item)
        session.flush()
        match = Match(item_id=item.id, topic_slug=topic, status=status, hits=[], score=1.0,
                      created_at=now)
        session.add(match)
        session.flush()
        return match.id


@pytest.fixture
def smtp_context(make_context, smtp_server):
    controller, inbox = smtp_server
    ctx = make_context(AWARENESS_MAIL_BACKEND="smtp", AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                       AWARENESS_MAIL_SMTP_PORT=str(controller.port),
                       AWARENESS_WEB_BASE_URL="https://library.example.nhs.uk")
    people.add_subscriber(ctx, "reader@trust.nhs.uk", ["leadership"], "daily")
    return ctx, inbox


def statuses(ctx) -> list[str]:
    with orm_session(ctx) as session:
        return list(session.scalars(select(Outbox.status).where(Outbox.kind == "digest")
                                    .order_by(Outbox.id)))


def test_one_digest_per_period_however_often_the_job_runs(smtp_context):
    ctx, inbox = smtp_context
    add_match(ctx, "Leadership framework published")
    first = digests.send_digests(ctx)
    add_match(ctx, "Another leadership report")  # arrives later the same day
    second = digests.send_digests(ctx)
    assert (first.queued, first.sent) == (1, 1)
    assert (second.queued, second.already_queued, second.sent) == (0, 1, 0)
    assert len(inbox.messages) == 1


def test_next_period_carries_only_what_was_not_sent(smtp_context, clock):
    ctx, inbox = smtp_context
    add_match(ctx, "Leadership framework published")
    digests.send_digests(ctx)
    add_match(ctx, "Another leadership report")
    clock.advance(days=1)
    digests.send_digests(ctx)
    bodies = [message_from_bytes(raw, policy=policy.default).get_body(("plain",)).get_content()
              for _, _, raw in inbox.messages]
    assert len(bodies) == 2
    assert "Leadership framework published" in bodies[0]
    assert "Another leadership report" in bodies[1]
    assert "Leadership framework published" not in bodies[1]


def test_pending_and_rejected_matches_are_not_sent(smtp_context):
    ctx, inbox = smtp_context
    add_match(ctx, "Waiting for review", status="pending")
    add_match(ctx, "Turned down", status="rejected")
    report = digests.send_digests(ctx)
    assert report.nothing_to_send == 1
    assert inbox.messages == []


def test_crash_before_send_loses_nothing(smtp_context, clock):
    ctx, inbox = smtp_context
    add_match(ctx, "Leadership framework published")
    real = ctx.mailer
    ctx.mailer = CrashBeforeSend()
    with pytest.raises(Crash):
        digests.send_digests(ctx)
    assert statuses(ctx) == ["sending"]  # claimed by the relay that died
    ctx.mailer = real
    assert digests.send_digests(ctx).sent == 0  # the claim holds until its lease runs out
    clock.advance(seconds=LEASE.total_seconds() + 1)
    report = digests.send_digests(ctx)
    assert report.sent == 1
    assert len(inbox.messages) == 1
    assert statuses(ctx) == ["sent"]


def test_crash_after_accept_resends_with_the_same_message_id(smtp_context, clock):
    ctx, inbox = smtp_context
    add_match(ctx, "Leadership framework published")
    real = ctx.mailer
    ctx.mailer = CrashAfterAccept(real)
    with pytest.raises(Crash):
        digests.send_digests(ctx)
    ctx.mailer = real
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert digests.send_digests(ctx).possible_duplicates == 1
    ids = [message_from_bytes(raw, policy=policy.default)["Message-ID"]
           for _, _, raw in inbox.messages]
    assert len(ids) == 2 and ids[0] == ids[1]  # at-least-once, recognisably the same digest
    assert statuses(ctx) == ["sent"]


def test_temporary_refusal_is_retried_later_permanent_is_not(smtp_context, clock):
    ctx, inbox = smtp_context
    people.add_subscriber(ctx, "gone@trust.nhs.uk", ["leadership"], "daily")
    add_match(ctx, "Leadership framework published")
    inbox.refuse["reader@trust.nhs.uk"] = "452 4.2.2 Mailbox full"
    inbox.refuse["gone@trust.nhs.uk"] = "550 5.1.1 No such user"
    report = digests.send_digests(ctx)
    assert (report.retrying, report.failed, report.sent, report.suspended) == (1, 1, 0, 1)
    assert sorted(statuses(ctx)) == ["failed", "pending"]
    bounced = {v.email: v for v in people.list_subscribers(ctx)}["gone@trust.nhs.uk"]
    assert not bounced.active and "550 5.1.1" in (bounced.suspended_reason or "")

    del inbox.refuse["reader@trust.nhs.uk"]
    digests.send_digests(ctx)  # too early: the retry waits
    assert inbox.messages == []
    clock.advance(minutes=6)
    digests.send_digests(ctx)
    assert [rcpt for _, rcpt, _ in inbox.messages] == [["reader@trust.nhs.uk"]]


@pytest.mark.integration
def test_dead_smtp_server_leaves_every_digest_pending(make_context, clock):
    from tests.conftest import free_port

    ctx = make_context(AWARENESS_MAIL_BACKEND="smtp", AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                       AWARENESS_MAIL_SMTP_PORT=str(free_port()),
                       AWARENESS_WEB_BASE_URL="https://library.example.nhs.uk")
    for n in range(5):
        people.add_subscriber(ctx, f"reader{n}@trust.nhs.uk", ["leadership"], "daily")
    add_match(ctx, "Leadership framework published")
    report = digests.send_digests(ctx)
    # After three failures in a row the relay pauses instead of trying every digest.
    assert (report.queued, report.retrying, report.sent, report.paused) == (5, 3, 0, True)
    assert statuses(ctx) == ["pending"] * 5
    with orm_session(ctx) as session:
        attempts = list(session.scalars(select(Outbox.attempts).order_by(Outbox.id)))
    assert attempts == [1, 1, 1, 0, 0]


def test_unsubscribed_staff_get_nothing(smtp_context):
    ctx, inbox = smtp_context
    add_match(ctx, "Leadership framework published")
    roster.remove(ctx, people.subscriber(ctx, "reader@trust.nhs.uk").id, "alice")
    digests.send_digests(ctx)
    assert inbox.messages == []


def test_dry_run_changes_nothing(smtp_context):
    ctx, inbox = smtp_context
    add_match(ctx, "Leadership framework published")
    report = digests.send_digests(ctx, dry_run=True)
    assert [email for email, _ in report.previews] == ["reader@trust.nhs.uk"]
    assert statuses(ctx) == []
    assert inbox.messages == []


def test_export_and_erase_one_subscriber(smtp_context):
    from awareness.errors import NotFound

    ctx, _ = smtp_context
    people.add_subscriber(ctx, "other@trust.nhs.uk", ["leadership"], "daily")
    add_match(ctx, "Leadership framework published")
    digests.send_digests(ctx)
    exported = people.export_subscriber(ctx, "Reader@trust.nhs.uk")
    assert exported["email"] == "reader@trust.nhs.uk"
    assert [d["items"] for d in exported["deliveries"]] == [["Leadership framework published"]]

    assert people.erase_subscriber(ctx, "reader@trust.nhs.uk") == 1
    with pytest.raises(NotFound):
        people.export_subscriber(ctx, "reader@trust.nhs.uk")
    assert [v.email for v in people.list_subscribers(ctx)] == ["other@trust.nhs.uk"]
    assert statuses(ctx) == ["sent"]  # the other subscriber's history is untouched


def test_the_same_story_from_two_publishers_is_sent_once(smtp_context, clock):
    ctx, inbox = smtp_context
    first = add_match(ctx, "State of Care 2025/26")
    digests.send_digests(ctx)
    with orm_writing(ctx) as session:
        root = session.get_one(Match, first).item_id
        session.add(Source(id="govuk", name="CQC on GOV.UK", publisher="Care Quality Commission",
                           url="https://www.gov.uk/government/organisations/cqc.atom",
                           kind="feed"))
        copy = Item(source_id="govuk", key="link:copy", title="Corporate report: State of Care",
                    link="https://www.gov.uk/government/publications/state-of-care",
                    summary_text="", first_seen_at=ctx.now(), story_id=root)
        session.add(copy)
        session.flush()
        session.add(Match(item_id=copy.id, topic_slug="leadership", status="approved", hits=[],
                          score=1.0, created_at=ctx.now()))
    clock.advance(days=1)
    report = digests.send_digests(ctx)
    assert report.nothing_to_send == 1
    assert len(inbox.messages) == 1


@pytest.mark.parametrize("highlight", ["false", "true"])
def test_matched_words_are_marked_only_when_set_and_feed_text_stays_escaped(
        make_context, smtp_server, highlight):
    controller, inbox = smtp_server
    ctx = make_context(AWARENESS_MAIL_BACKEND="smtp", AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                       AWARENESS_MAIL_SMTP_PORT=str(controller.port),
                       AWARENESS_WEB_BASE_URL="https://library.example.nhs.uk",
                       AWARENESS_MAIL_HIGHLIGHT=highlight)
    people.add_subscriber(ctx, "reader@trust.nhs.uk", ["leadership"], "daily")
    match_id = add_match(ctx, "Leadership framework published")
    with orm_writing(ctx) as session:
        match = session.get_one(Match, match_id)
        match.item.summary_text = 'Compassionate leadership <img src=x onerror=alert(1)> for all'
        match.hits = [{"term": "leader*", "field": "summary", "word": "leadership"}]
    digests.send_digests(ctx)
    message = message_from_bytes(inbox.messages[0][2], policy=policy.default)
    html = message.get_body(("html",)).get_content()
    marked = '<mark style="background-color:#fff2a8;color:#212b32;">leadership</mark>' in html
    assert marked is (highlight == "true")  # issue 12: readers get plain text by default
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html
    assert "<mark" not in message.get_body(("plain",)).get_content()


def test_erase_removes_every_message_addressed_to_the_person(smtp_context):
    """W8: erase leaves no outbox row about them, whatever its kind (here the source report,
    which the owner of the sources also reads as a subscriber)."""
    from awareness.mail.compose import Sender, compose
    from awareness.mail.outbox import SOURCES_REPORT, Queued
    from awareness.storage import outbox
    from awareness.storage.db import writing

    ctx, _ = smtp_context
    people.add_subscriber(ctx, "other@trust.nhs.uk", ["leadership"], "daily")
    add_match(ctx, "Leadership framework published")
    digests.send_digests(ctx)
    report = compose(sender=Sender("awareness@example.nhs.uk", "Library"),
                     to="Reader@trust.nhs.uk", subject="1 source needs attention",
                     text="Broken.", message_id="<sources.2026-11-23@example.nhs.uk>",
                     date=ctx.now())
    with writing(ctx.engine) as connection:
        assert outbox.queue(connection, Queued(SOURCES_REPORT, "2026-11-23", report), ctx.now())
    exported = people.export_subscriber(ctx, "reader@trust.nhs.uk")
    assert [(d["kind"], d["period"]) for d in exported["deliveries"]] == [
        ("digest", "daily:2026-11-23"), ("sources_report", "2026-11-23")]

    assert people.erase_subscriber(ctx, "reader@trust.nhs.uk") == 2
    with orm_session(ctx) as session:
        left = session.execute(select(Outbox.kind, Outbox.recipient)).all()
    assert left == [("digest", "other@trust.nhs.uk")]


def test_digest_shards_share_the_subscribers_once_between_them(make_context):
    # The queue's build_digests jobs: each shard queues its own subscribers, none twice.
    ctx = make_context()
    for n in range(5):
        people.add_subscriber(ctx, f"reader{n}@trust.nhs.uk", ["leadership"], "daily")
    add_match(ctx, "Leadership framework published")

    def shards() -> list[digests.SendReport]:
        reports = [digests.SendReport() for _ in range(3)]
        for shard, report in enumerate(reports):
            digests.enqueue(ctx, report, frequency="daily", dry_run=False, shard=(shard, 3))
        return reports

    first = [report.queued for report in shards()]
    assert sum(first) == 5 and max(first) < 5
    again = shards()
    assert [r.queued for r in again] == [0, 0, 0]
    assert sum(r.already_queued for r in again) == 5
