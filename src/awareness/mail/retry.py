"""What the relay does after a send (pure): retry when, give up, suspend, pause.

The relay classifies each failure as a ``SendFailure`` and asks ``decide`` what becomes of
that one message (RELIABILITY.md E4, E5, E7):

* a temporary failure is retried after 5 min, 30 min, 2 h, then every 6 h, until the message
  has waited 48 h; then it is given up;
* a permanent failure is given up at once; a permanent refusal of the *recipient* (``550
  5.1.1``) is a hard bounce, and the subscriber it was for is suspended.

Which failures pause the relay is the ``Breaker``'s business: only a failure of the server
itself (no connection, greeting, TLS or login) counts; three in a row end the pass, because
with the server down every message would fail the same way. A failure tied to one message or
recipient never pauses anybody else's (issue 11): the message gets its own back-off and the
pass goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Scope = Literal["server", "message", "recipient"]


@dataclass(frozen=True)
class SendFailure:
    """Why one send failed: whose failure it is, whether a retry may succeed, and a line
    a person can read (addresses masked)."""

    scope: Scope
    temporary: bool
    reason: str

    @property
    def hard_bounce(self) -> bool:
        """Did the server refuse the recipient's address for good (E5)?"""
        return self.scope == "recipient" and not self.temporary


@dataclass(frozen=True)
class RetryPolicy:
    """When temporary failures are tried again, and for how long (E4)."""

    delays: tuple[timedelta, ...] = (timedelta(minutes=5), timedelta(minutes=30),
                                     timedelta(hours=2), timedelta(hours=6))
    give_up_after: timedelta = timedelta(hours=48)


@dataclass(frozen=True)
class Retry:
    """Send the message again at ``at``."""

    at: datetime


@dataclass(frozen=True)
class GiveUp:
    """Stop trying; ``suspend`` when it was a hard bounce (stop mailing the address)."""

    suspend: bool


def decide(*, attempts: int, created_at: datetime, failure: SendFailure, now: datetime,
           policy: RetryPolicy = RetryPolicy()) -> Retry | GiveUp:
    """What becomes of a message that has now failed its ``attempts``-th attempt (≥ 1)."""
    if failure.temporary and now - created_at < policy.give_up_after:
        delay = policy.delays[min(max(attempts, 1), len(policy.delays)) - 1]
        return Retry(now + delay)
    return GiveUp(suspend=failure.hard_bounce)


@dataclass(frozen=True)
class Breaker:
    """The relay's circuit breaker (E7): ``failures`` server failures in a row so far."""

    limit: int = 3
    failures: int = 0

    @property
    def is_open(self) -> bool:
        """Should the pass stop here, leaving the rest for the next one?"""
        return self.failures >= self.limit

    def after(self, failure: SendFailure | None) -> Breaker:
        """The breaker after one send: a server failure counts; anything else — a success,
        or a failure the server reported about one message — shows the server works."""
        counted = self.failures + 1 if failure and failure.scope == "server" else 0
        return Breaker(self.limit, counted)
