"""The relay against a real SMTP server (aiosmtpd on loopback), on SQLite and PostgreSQL:
one connection a pass, a failure tied to one message or recipient delays nobody else
(issue 11), no transaction is held while the server talks, and two relays running at once
never send one message twice."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select

from awareness.cli import cli
from awareness.mail.outbox import unsent_lines
from awareness.service import digests, people
from awareness.service.context import create_context
from awareness.service.outbox import RelayReport, relay
from awareness.settings import load_settings
from awareness.storage import subscribers
from awareness.storage.db import upgrade, writing
from awareness.storage.models import OutboxMessage as Outbox
from tests.conftest import Inbox, RecordedSteps, free_port, orm_session, settings_env
from tests.test_outbox import add_match

READERS = [f"reader{n}@trust.nhs.uk" for n in range(8)]


def smtp_settings(controller: Controller) -> dict[str, str]:
    return {"AWARENESS_MAIL_BACKEND": "smtp", "AWARENESS_MAIL_SMTP_HOST": "127.0.0.1",
            "AWARENESS_MAIL_SMTP_PORT": str(controller.port),
            "AWARENESS_WEB_BASE_URL": "https://library.example.nhs.uk"}


def subscribed_to_a_match(ctx: Any, addresses: list[str]) -> None:
    """Daily subscribers of leadership, and an approved leadership match for them."""
    for address in addresses:
        people.add_subscriber(ctx, address, ["leadership"], "daily")
    add_match(ctx, "Leadership framework published")


def queue_digests(ctx: Any, addresses: list[str]) -> None:
    subscribed_to_a_match(ctx, addresses)
    report = digests.SendReport()
    digests.enqueue(ctx, report, frequency=None, dry_run=False)
    assert report.queued == len(addresses)


def rows(ctx: Any) -> dict[str, tuple[str, int, str | None]]:
    """recipient → (status, attempts, last error) of every digest."""
    with orm_session(ctx) as session:
        found = session.execute(select(Outbox.recipient, Outbox.status, Outbox.attempts,
                                       Outbox.last_error).where(Outbox.kind == "digest"))
        return {recipient: (status, attempts, error)
                for recipient, status, attempts, error in found}


def recipients(inbox: Inbox) -> list[str]:
    return sorted(address for _, rcpt, _ in inbox.messages for address in rcpt)


def test_one_connection_carries_a_whole_pass(make_context, smtp_server):
    controller, inbox = smtp_server
    ctx = make_context(**smtp_settings(controller))
    queue_digests(ctx, READERS)
    report = relay(ctx)
    assert (report.sent, report.unsent) == (8, [])
    assert recipients(inbox) == READERS
    assert inbox.connections == 1


def test_a_failure_tied_to_one_recipient_delays_nobody_else(make_context, smtp_server, clock):
    controller, inbox = smtp_server
    ctx = make_context(**smtp_settings(controller))
    queue_digests(ctx, READERS)
    dropped, busy, closing = {READERS[1], READERS[4]}, READERS[2], READERS[6]
    inbox.drop_in_data |= dropped  # the connection dies in the middle of their DATA
    inbox.refuse[busy] = "451 4.3.0 Try again later"
    inbox.refuse[closing] = "421 4.7.0 Too many connections, closing"

    report = relay(ctx)

    # Everyone else's digest went out in the same pass, over a new connection after each
    # one that was dropped or closed; nothing paused the relay.
    assert (report.sent, report.retrying, report.failed, report.paused) == (4, 4, 0, False)
    assert recipients(inbox) == sorted(set(READERS) - dropped - {busy, closing})
    assert inbox.connections == 1 + len(dropped) + 1
    state = rows(ctx)
    for address in dropped:
        assert state[address][:2] == ("pending", 1)
        assert "failed while sending" in (state[address][2] or "")
    assert "451 4.3.0" in (state[busy][2] or "") and "421 4.7.0" in (state[closing][2] or "")
    assert unsent_lines(report.unsent)[0].startswith("digest: 4 unsent (4 to retry); 2× ")

    inbox.drop_in_data.clear()
    inbox.refuse.clear()
    assert relay(ctx).sent == 0  # each waits out its own back-off
    clock.advance(minutes=6)
    again = relay(ctx)
    assert (again.sent, again.unsent) == (4, [])
    assert recipients(inbox) == READERS  # everyone once, nobody twice
    assert {status for status, _, _ in rows(ctx).values()} == {"sent"}


class LockProbe(Inbox):
    """Checks, while each message's DATA is being received, whether anybody holds the
    SQLite database's write lock (a relay holding a transaction through SMTP would)."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.locked: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        probe = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            self.locked.append(False)
        except sqlite3.OperationalError:
            self.locked.append(True)
        finally:
            probe.close()
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.db
@pytest.mark.integration
def test_no_transaction_is_held_while_the_server_talks(tmp_path, clock):
    # SQLite only: its one write lock is what a transaction held through SMTP would block.
    path = tmp_path / "lock.db"
    handler = LockProbe(str(path))
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    env = settings_env(tmp_path, f"sqlite:///{path}", **smtp_settings(controller))
    ctx = create_context(load_settings(environ=env, cwd=tmp_path), clock=clock)
    try:
        upgrade(ctx.engine)
        queue_digests(ctx, READERS[:3])
        assert relay(ctx).sent == 3
    finally:
        controller.stop()
        ctx.dispose()
    assert handler.locked == [False, False, False]


class Meeting(Inbox):
    """Holds the first DATA until a second connection has been opened, so that two relays
    are certainly sending at the same time."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for _ in range(1000):
            if self.connections >= 2:
                break
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.integration
def test_two_relays_at_once_never_send_one_message_twice(make_context):
    handler = Meeting()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    addresses = [f"reader{n}@trust.nhs.uk" for n in range(30)]
    try:
        first = make_context(**smtp_settings(controller))
        second = make_context(**smtp_settings(controller))  # another process's engine
        queue_digests(first, addresses)
        reports: list[RelayReport] = []
        start = threading.Barrier(2)

        def run(ctx: Any) -> None:
            start.wait()
            reports.append(relay(ctx))

        threads = [threading.Thread(target=run, args=(ctx,)) for ctx in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        controller.stop()
    assert handler.connections == 2 and all(report.sent for report in reports)
    assert sum(report.sent for report in reports) == 30
    assert recipients(handler) == sorted(addresses)
    assert {status for status, _, _ in rows(first).values()} == {"sent"}


def test_a_hard_bounce_fails_only_that_message(make_context, smtp_server, clock):
    controller, inbox = smtp_server
    ctx = make_context(**smtp_settings(controller))
    queue_digests(ctx, READERS[:3])
    inbox.refuse[READERS[1]] = "550 5.1.1 No such user"
    report = relay(ctx)
    assert (report.sent, report.failed, report.suspended) == (2, 1, 1)
    assert unsent_lines(report.unsent) == [
        "digest: 1 unsent (1 failed); 1× SMTP server refused recipient: 550 5.1.1 No such user"]
    clock.advance(days=3)
    assert relay(ctx).unsent == []  # given up is final: not retried, not reported again


def test_digests_send_exits_non_zero_while_anything_is_unsent(make_context, smtp_server,
                                                              tmp_path, database_url):
    controller, inbox = smtp_server
    ctx = make_context(**smtp_settings(controller))
    subscribed_to_a_match(ctx, READERS[:2])
    inbox.refuse[READERS[1]] = "452 4.2.2 Mailbox full"
    env = settings_env(tmp_path, database_url, **smtp_settings(controller))

    dry = CliRunner().invoke(cli, ["digests", "send", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines()[-1] == (
        "dry run: 2 digests would be sent, 0 already done this period, 0 with nothing to send;"
        " nothing was sent")
    result = CliRunner().invoke(cli, ["digests", "send"], env=env)
    assert result.exit_code == 1, result.output
    assert "queued 2, sent 1, retrying 1, failed 0" in result.output
    # With nothing left to build, a dry run still says so rather than print nothing.
    dry = CliRunner().invoke(cli, ["digests", "send", "--dry-run"], env=env)
    assert dry.output.splitlines()[-1].startswith(
        "dry run: 0 digests would be sent, 2 already done this period"), dry.output
    assert result.output.splitlines()[-1] == (
        "unsent digest: 1 unsent (1 to retry); "
        "1× SMTP server refused recipient: 452 4.2.2 Mailbox full")
    assert READERS[1] not in result.output


def test_digests_send_says_how_far_it_has_got(make_context, smtp_server):
    # `awareness digests send` draws a bar for each stage from these (cli/base.py `bars`).
    controller, inbox = smtp_server
    ctx = make_context(**smtp_settings(controller))
    subscribed_to_a_match(ctx, READERS[:3])
    inbox.refuse[READERS[2]] = "452 4.2.2 Mailbox full"
    steps = RecordedSteps()
    report = digests.send_digests(ctx, steps=steps)
    assert report.queued == 3 and report.retrying == 1
    # every digest was tried once, the refused one too
    assert steps.stages == [["building digests", 3, 3], ["sending", 3, 3]]
    assert len(inbox.messages) == 2
    again = RecordedSteps()
    digests.send_digests(ctx, steps=again)  # all queued this period; the refusal not yet due
    assert again.stages == [["building digests", 0, 0], ["sending", 0, 0]]


def test_an_address_that_cannot_be_composed_stops_only_its_digest(make_context, smtp_server):
    # An address stored before the address check refused a leading dot (the e-mail package
    # refuses it too). Before, the whole run stopped at that subscriber.
    controller, inbox = smtp_server
    ctx = make_context(**smtp_settings(controller))
    add_match(ctx, "Leadership framework published")
    with writing(ctx.engine) as connection:
        subscribers.subscribe(connection, email=".dot@trust.nhs.uk", token="t" * 43,
                              choices=[("leadership", "daily")], now=ctx.now())
    people.add_subscriber(ctx, READERS[0], ["leadership"], "daily")
    report = digests.send_digests(ctx)
    assert (report.queued, report.sent) == (1, 1)
    assert recipients(inbox) == [READERS[0]]
    [line] = unsent_lines(report.unsent)
    assert line.startswith("digest: 1 unsent (1 failed); 1× cannot be composed: ")
