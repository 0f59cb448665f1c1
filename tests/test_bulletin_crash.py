"""A bulletin send killed half-way (kill -9), then run again, gives every recipient exactly
one copy (issue 13).

The sender is a real ``awareness bulletins send`` process; the SMTP server (aiosmtpd on
loopback) holds the third message's DATA unanswered, so the process is killed at a known
point: two copies accepted and marked sent, one claimed and in flight (never accepted), the
rest waiting. The restart is a relay pass once the dead process's claim has run out.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

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


def test_a_send_that_died_after_queueing_queues_nothing_again(make_context, subscriptions):
    """Killed after the copies were queued but before the issue was marked sent: the rerun
    finds every copy in the outbox and adds none."""
    write_bulletin(subscriptions, text=(
        'title = "Workforce bulletin"\nsend_day = "monday"\ntopics = ["leadership"]\n'))
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subscriptions))
    for address in READERS:
        people.add_subscriber(ctx, address, ["leadership"], "weekly", bulletins=True)
    add_item(ctx, "Leadership framework for NHS boards")
    bulletins.draft(ctx, "workforce")
    bulletins.approve(ctx, "workforce", 1, by="alice")
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
