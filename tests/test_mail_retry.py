"""The relay's decisions, without a database or a server (pure core): retry or give up,
suspend after a hard bounce, pause after server failures, and the unsent summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness.mail.outbox import Unsent, unsent_lines
from awareness.mail.retry import Breaker, GiveUp, Retry, RetryPolicy, SendFailure, decide

CREATED = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
BUSY = SendFailure("recipient", True, "SMTP server refused recipient: 452 4.2.2 Mailbox full")
UNKNOWN = SendFailure("recipient", False, "SMTP server refused recipient: 550 5.1.1 No user")
SPAM = SendFailure("message", False, "SMTP server refused message: 554 5.7.1 Spam")
DROPPED = SendFailure("message", True, "SMTP server failed while sending: Connection lost")
DOWN = SendFailure("server", True, "could not connect to SMTP server: Connection refused")


@pytest.mark.parametrize(("attempts", "delay"), [
    (1, timedelta(minutes=5)), (2, timedelta(minutes=30)), (3, timedelta(hours=2)),
    (4, timedelta(hours=6)), (9, timedelta(hours=6)),
])
def test_temporary_failures_back_off(attempts: int, delay: timedelta):
    now = CREATED + timedelta(hours=1)
    for failure in (BUSY, DROPPED, DOWN):
        assert decide(attempts=attempts, created_at=CREATED, failure=failure, now=now) == (
            Retry(now + delay))


def test_a_temporary_failure_is_given_up_after_48_hours():
    late = CREATED + timedelta(hours=48)
    assert decide(attempts=12, created_at=CREATED, failure=BUSY, now=late) == GiveUp(False)
    early = late - timedelta(seconds=1)
    assert isinstance(decide(attempts=12, created_at=CREATED, failure=BUSY, now=early), Retry)


def test_only_a_permanent_refusal_of_the_recipient_suspends():
    now = CREATED
    assert decide(attempts=1, created_at=CREATED, failure=UNKNOWN, now=now) == GiveUp(True)
    assert decide(attempts=1, created_at=CREATED, failure=SPAM, now=now) == GiveUp(False)


def test_the_policy_is_a_parameter():
    policy = RetryPolicy(delays=(timedelta(seconds=1),), give_up_after=timedelta(minutes=1))
    assert decide(attempts=5, created_at=CREATED, failure=BUSY, now=CREATED,
                  policy=policy) == Retry(CREATED + timedelta(seconds=1))


@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=10**7),
       st.sampled_from([BUSY, UNKNOWN, SPAM, DROPPED, DOWN]))
def test_a_retry_is_always_later_and_never_for_a_permanent_failure(attempts, seconds, failure):
    now = CREATED + timedelta(seconds=seconds)
    decision = decide(attempts=attempts, created_at=CREATED, failure=failure, now=now)
    if isinstance(decision, Retry):
        assert failure.temporary and now < decision.at <= now + timedelta(hours=6)
    else:
        assert decision.suspend == (failure is UNKNOWN)


def test_the_breaker_counts_only_server_failures_in_a_row():
    breaker = Breaker(limit=3)
    for failure in (DOWN, DOWN, BUSY, DOWN, DROPPED, None, DOWN, DOWN):
        breaker = breaker.after(failure)
        assert not breaker.is_open
    assert breaker.after(DOWN).is_open


def test_unsent_lines_say_how_many_and_why_per_kind():
    rows = [Unsent("digest", "pending", BUSY.reason), Unsent("digest", "pending", BUSY.reason),
            Unsent("digest", "failed", UNKNOWN.reason), Unsent("digest", "pending", None),
            Unsent("stewardship", "sending", None)]
    assert unsent_lines(rows) == [
        f"digest: 4 unsent (3 to retry, 1 failed); 2× {BUSY.reason}; 1× {UNKNOWN.reason}; "
        "1× not tried yet",
        "stewardship: 1 unsent (1 to retry); 1× not tried yet",
    ]
    assert unsent_lines([]) == []


def test_unsent_lines_stay_one_line_with_many_reasons():
    rows = [Unsent("digest", "failed", f"reason {n}") for n in range(6)]
    [line] = unsent_lines(rows)
    assert line.endswith("; 3 other reasons") and "\n" not in line
