"""A bulletin send killed half-way (kill -9), then run again, gives every recipient exactly
one copy (issue 13).

The sender is a real ``awareness bulletins send`` process; the SMTP server (aiosmtpd on
loopback) holds the third message's DATA unanswered, so the process is killed at a known
point: two copies accepted and marked sent, one claimed and in flight (never accepted), the
rest waiting. The restart is a relay pass once the dead process's claim has run out.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from awareness.service import bulletins, outbox, people
from awareness.service.outbox import LEASE
from awareness.storage.models import BulletinIssue, OutboxMessage
from awareness.storage.models import Subscriber as SubscriberRow
from tests.conftest import Inbox, free_port, orm_session, orm_writing, settings_env
from tests.test_bulletins import add_item, subscriptions, write_bulletin

__all__ = ["subscriptions"]  # a fixture, shared
pytestmark = [pytest.mark.integration]
READERS = [f"reader{n}@trust.nhs.uk" for n in range(1, 6)]


class HoldingInbox(Inbox):
    """Keeps messages like ``Inbox``, but never answers the DATA of ``held`` the first time."""

    def __init__(self, held: str) -> None:
        super().__init__()
        self.held = held
        self.holding = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.held in envelope.rcpt_tos and not self.holding.is_set():
            self.holding.set()
            await asyncio.Event().wait()  # until the client dies and the test ends
        return await super().handle_DATA(server, session, envelope)


def test_a_send_killed_half_way_then_rerun_gives_each_reader_one_copy(
        make_context, database_url, subscriptions, tmp_path, clock):
    write_bulletin(subscriptions, text=(
        'title = "Workforce bulletin"\nsend_day = "monday"\ntopics = ["leadership"]\n'))
    inbox = HoldingInbox(held=READERS[2])
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mail = {"AWARENESS_MAIL_BACKEND": "smtp", "AWARENESS_MAIL_SMTP_HOST": "127.0.0.1",
                "AWARENESS_MAIL_SMTP_PORT": str(controller.port),
                "AWARENESS_PATHS_SUBSCRIPTIONS": str(subscriptions)}
        ctx = make_context(**mail)
        for address in READERS:
            people.add_subscriber(ctx, address, ["leadership"], "weekly", bulletins=True)
        add_item(ctx, "Leadership framework for NHS boards")
        bulletins.draft(ctx, "workforce")
        bulletins.approve(ctx, "workforce", 1, by="alice")

        sender = subprocess.Popen(
            [sys.executable, "-m", "awareness", "bulletins", "send", "workforce", "1"],
            env=settings_env(tmp_path, database_url, **mail), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            assert inbox.holding.wait(60), "the sender never reached the third copy"
        finally:
            sender.kill()  # SIGKILL: no clean-up, no marking
            sender.wait()
        assert sorted(rcpts[0] for _, rcpts, _ in inbox.messages) == READERS[:2]

        # The restart: a relay pass after the dead process's claim ran out.
        clock.now = datetime.now(UTC) + LEASE + LEASE
        report = outbox.relay(ctx)
        assert report.sent == 3 and report.unsent == []
        received = Counter(rcpts[0] for _, rcpts, _ in inbox.messages)
        assert received == Counter(READERS)  # each reader exactly once
        assert report.possible_duplicates == 1  # the claimed copy, never accepted, counted
        # A rerun of the whole send queues nothing and sends nothing.
        assert bulletins.send_issue(ctx, "workforce", 1) == 0
        assert outbox.relay(ctx).sent == 0
    finally:
        controller.stop()
    assert len(inbox.messages) == len(READERS)


def approved_issue(make_context: Any, subscriptions: Any, send_day: str) -> Any:
    """A context whose bulletin's issue 1 is approved, with an item, for the five readers."""
    write_bulletin(subscriptions, text=(
        f'title = "Workforce bulletin"\nsend_day = "{send_day}"\ntopics = ["leadership"]\n'))
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subscriptions))
    for address in READERS:
        people.add_subscriber(ctx, address, ["leadership"], "weekly", bulletins=True)
    add_item(ctx, "Leadership framework for NHS boards")
    bulletins.draft(ctx, "workforce")
    bulletins.approve(ctx, "workforce", 1, by="alice")
    return ctx


def test_a_send_that_died_after_queueing_queues_nothing_again(make_context, subscriptions):
    """Killed after the copies were queued but before the issue was marked sent: the rerun
    finds every copy in the outbox and adds none."""
    ctx = approved_issue(make_context, subscriptions, "monday")
    assert bulletins.send_issue(ctx, "workforce", 1) == len(READERS)
    with orm_writing(ctx) as session:  # as if the process died before marking it sent
        session.execute(update(BulletinIssue).values(status="approved", sent_at=None))
        session.execute(update(SubscriberRow).where(SubscriberRow.email == READERS[0])
                        .values(bulletins=False))  # and one reader left meanwhile
    assert bulletins.send_issue(ctx, "workforce", 1) == 0
    with orm_session(ctx) as session:
        assert session.scalar(select(BulletinIssue.status)) == "sent"
        rows = session.scalars(select(OutboxMessage.recipient)
                               .where(OutboxMessage.kind == "bulletin")).all()
    assert sorted(rows) == READERS


def test_a_send_that_died_part_way_and_resumed_next_day_dates_every_copy_alike(
        make_context, subscriptions, clock, monkeypatch):
    """The process dies after the first copies are queued, before the rest; it is run again
    after midnight. Every copy, and the issue's page, give the day sending began; while it is
    unfinished the approval cannot be taken back (some readers have the issue already)."""
    ctx = approved_issue(make_context, subscriptions, "monday")
    clock.now = datetime(2026, 11, 23, 23, 50, tzinfo=UTC)  # Monday, 23:50 in London
    began = clock.now

    queue, calls = bulletins.outbox.queue, []

    def dies_on_the_third(connection: Any, message: Any, now: datetime) -> bool:
        calls.append(message.key)
        if len(calls) == 3:
            raise SystemExit("the process died")
        return queue(connection, message, now)

    monkeypatch.setattr(bulletins, "BATCH", 2)
    monkeypatch.setattr(bulletins.outbox, "queue", dies_on_the_third)
    with pytest.raises(SystemExit):
        bulletins.send_issue(ctx, "workforce", 1)
    monkeypatch.setattr(bulletins.outbox, "queue", queue)
    with orm_session(ctx) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.kind == "bulletin")) == 2
    with pytest.raises(bulletins.NotEditable, match="begun to go out"):
        bulletins.reopen(ctx, "workforce", 1, by="alice")

    clock.now = datetime(2026, 11, 24, 0, 20, tzinfo=UTC)  # Tuesday: the rerun
    assert bulletins.send_issue(ctx, "workforce", 1) == len(READERS) - 2
    found = bulletins.issue(ctx, "workforce", 1)
    assert found.status == "sent" and found.sent_at == began
    with orm_session(ctx) as session:
        copies = session.scalars(select(OutboxMessage.message)
                                 .where(OutboxMessage.kind == "bulletin")).all()
    assert len(copies) == len(READERS)
    for raw in copies:
        assert raw is not None
        text = email.message_from_bytes(raw, policy=email.policy.default)
        body = text.get_body(("plain",))
        assert body is not None and "23 November 2026" in body.get_content()


def test_the_scheduled_pass_finishes_a_send_begun_early(make_context, subscriptions, clock,
                                                        monkeypatch):
    """Sent by hand days before its slot and cut short: the next pass finishes it."""
    ctx = approved_issue(make_context, subscriptions, "friday")
    found = bulletins.issue(ctx, "workforce", 1)
    assert clock.now < found.due_at

    queue = bulletins.outbox.queue

    def dies(connection: Any, message: Any, now: datetime) -> bool:
        raise SystemExit("the process died")

    monkeypatch.setattr(bulletins.outbox, "queue", dies)
    with pytest.raises(SystemExit):
        bulletins.send_issue(ctx, "workforce", 1)
    monkeypatch.setattr(bulletins.outbox, "queue", queue)
    clock.advance(minutes=15)
    assert clock.now < found.due_at
    report = bulletins.tick(ctx)
    assert report.sent == ["workforce #1"] and report.queued == len(READERS)
