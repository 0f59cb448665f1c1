"""The relay: sends every due outbox message, of every kind, over one connection per pass.

Each message is claimed in a short write transaction, sent outside any transaction (on
SQLite a transaction held open through an SMTP conversation would block every writer,
librarians included), then marked in another short one — the one that claims the next
message, so a pass commits once per message (issue 11). The server's answer is
classified (``mail.backends.failure_of``) and the pure ``mail.retry`` decides: retry later,
give up, suspend the subscriber after a hard bounce, or — after three server failures in a
row — end the pass. A failure tied to one message or recipient delays nobody else.

Delivery is at least once (RELIABILITY.md E3): a relay that dies after the server's 250 but
before marking the row leaves it claimed; once the claim's lease runs out another pass sends
it again, with the same Message-ID, and counts it as a possible duplicate.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection

from awareness.errors import MailError
from awareness.mail.backends import MailSession, failure_of
from awareness.mail.outbox import Claimed, Unsent
from awareness.mail.retry import Breaker, GiveUp, Retry, SendFailure, decide
from awareness.progress import UNWATCHED, Steps
from awareness.service.context import Context
from awareness.storage import outbox, subscribers
from awareness.storage.db import reading, writing
from awareness.subscriber_history import SERVICE, SUSPENDED

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # far longer than one SMTP transaction may take
CIRCUIT_BREAKER = 3  # server failures in a row that end a pass (RELIABILITY E7)
# A message not sent this long after it was written means mail is not going out: the relay
# passes every few minutes, and even a big weekly run at [mail] send_rate is done well within.
STUCK = timedelta(minutes=30)


@dataclass
class RelayReport:
    """What one pass did; ``unsent`` is what the outbox still holds after it (pending or
    sending), plus what this pass gave up."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    suspended: int = 0
    paused: bool = False
    possible_duplicates: int = 0
    unsent: list[Unsent] = field(default_factory=list)
    send_seconds: list[float] = field(default_factory=list)  # each message's, for /metrics


Outcome = tuple[Claimed, SendFailure | None]  # a message sent, and why it failed (if it did)


def relay(ctx: Context, steps: Steps = UNWATCHED) -> RelayReport:
    """Send every message due now; each one's failure decides only its own fate. ``steps``
    hears how many are due, then of each message tried."""
    report = RelayReport()
    due_by = ctx.now()  # each row is tried at most once a pass, however long the pass takes
    with reading(ctx.engine) as connection:
        steps.begin("sending", outbox.due_count(connection, due_by=due_by))
    interval = 1.0 / max(ctx.settings.mail.send_rate, 0.001)
    breaker = Breaker(CIRCUIT_BREAKER)
    gave_up: list[Unsent] = []
    outcome: Outcome | None = None
    session = ctx.mailer.open()
    try:
        while claimed := _mark_and_claim(ctx, outcome, due_by, not breaker.is_open, report,
                                         gave_up):
            if outcome and outcome[1] is None:
                time.sleep(interval)  # [mail] send_rate
            started = time.monotonic()
            outcome = (claimed, _send(session, claimed))
            report.send_seconds.append(time.monotonic() - started)
            steps.step()
            breaker = breaker.after(outcome[1])
    finally:
        session.close()
    if breaker.is_open:
        # The server itself is failing (down, refusing us): stop rather than time out once
        # per message; what is left stays due for the next pass.
        log.warning("mail server failed %d times in a row; relay paused until the next pass",
                    breaker.failures)
        report.paused = True
    with reading(ctx.engine) as connection:
        report.unsent = outbox.unsent(connection) + gave_up
    return report


def _mark_and_claim(ctx: Context, outcome: Outcome | None, due_by: datetime, claim: bool,
                    report: RelayReport, gave_up: list[Unsent]) -> Claimed | None:
    """In one short write transaction: mark the message just sent (if any) with how it went,
    and claim the next due one (when ``claim``) until its lease runs out. Sharing the
    transaction halves the commits of a pass; the mark still comes straight after the send."""
    now = ctx.now()
    with writing(ctx.engine) as connection:
        decision = _mark(connection, *outcome, now) if outcome else None
        claimed = (outbox.claim_next(connection, due_by=due_by, lease_until=now + LEASE)
                   if claim else None)
    if outcome:
        _count(*outcome, decision, report, gave_up)
    if claimed and claimed.resent:
        # An earlier relay claimed it and never said how it went: it may have been delivered.
        log.warning("%s %s: an earlier send was never confirmed; sending again with the same "
                    "Message-ID (possible duplicate)", claimed.kind, claimed.key)
        report.possible_duplicates += 1
    return claimed


def _send(session: MailSession, claimed: Claimed) -> SendFailure | None:
    """None when the server accepted the message, else why not."""
    try:
        session.send(claimed.mail)
    except MailError as err:
        return failure_of(err)
    return None


def _mark(connection: Connection, claimed: Claimed, failure: SendFailure | None,
          now: datetime) -> Retry | GiveUp | None:
    """Mark the row sent, or decide (pure) and mark its retry or its end; None when sent."""
    if failure is None:
        outbox.mark_sent(connection, claimed.id, now)
        return None
    decision = decide(attempts=claimed.attempts, created_at=claimed.created_at,
                      failure=failure, now=now)
    if isinstance(decision, Retry):
        outbox.mark_retry(connection, claimed.id, decision.at, failure.reason)
        return decision
    outbox.mark_failed(connection, claimed.id, failure.reason)
    if decision.suspend and claimed.subscriber_id is not None:
        # A hard bounce: stop mailing the address (listmonk suspends at one), and say why.
        reason = f"hard bounce: {failure.reason}"
        if subscribers.suspend(connection, claimed.subscriber_id, reason, now):
            subscribers.record_event(connection, claimed.subscriber_id, SUSPENDED, reason,
                                     by=SERVICE, now=now)
    return decision


def _count(claimed: Claimed, failure: SendFailure | None, decision: Retry | GiveUp | None,
           report: RelayReport, gave_up: list[Unsent]) -> None:
    """Count and log one message's outcome, once its mark is committed."""
    if failure is None or decision is None:
        log.info("%s %s sent", claimed.kind, claimed.key)
        report.sent += 1
    elif isinstance(decision, Retry):
        report.retrying += 1
        log.warning("%s %s not sent, retrying at %s: %s", claimed.kind, claimed.key,
                    decision.at.isoformat(timespec="minutes"), failure.reason)
    else:
        report.failed += 1
        report.suspended += decision.suspend and claimed.subscriber_id is not None
        gave_up.append(Unsent(claimed.kind, "failed", failure.reason))
        log.warning("%s %s not sent, given up: %s", claimed.kind, claimed.key, failure.reason)


def mail_health(ctx: Context) -> tuple[str, bool, str]:
    """The /healthz check ``mail``: unhealthy while a message has waited more than ``STUCK``
    to be sent (the mail server is down or refuses us, or no process relays). The detail is
    generic (the endpoint is public): the librarians' dashboard says why."""
    with reading(ctx.engine) as connection:
        count, oldest = outbox.oldest_unsent(connection)
    waited = ctx.now() - oldest if oldest else timedelta(0)
    if waited < STUCK:
        return "mail", True, f"{count} message{'' if count == 1 else 's'} to send"
    return ("mail", False, f"{count} message{'' if count == 1 else 's'} not sent, the oldest "
            f"written {int(waited.total_seconds() // 60)} minutes ago; the dashboard says why")
