"""When to look at a source again (pure): the decisions behind polling and backoff."""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=24)
BROKEN_AFTER_FAILURES = 10


def is_due(next_check_at: datetime | None, now: datetime) -> bool:
    """Is a source whose next check is ``next_check_at`` due at ``now``?"""
    return next_check_at is None or next_check_at <= now


def next_check_after_success(now: datetime, interval_minutes: int) -> datetime:
    """A healthy source is checked again one interval later."""
    return now + timedelta(minutes=interval_minutes)


def next_check_after_failure(now: datetime, interval_minutes: int, failures: int,
                             retry_after: float | None, jitter: float) -> datetime:
    """Exponential backoff from the source's interval, capped at a day.

    ``failures`` counts consecutive failures including this one; ``jitter`` in [0, 1) spreads
    retries so that sources that failed together do not retry together. A server's
    ``Retry-After`` (already capped by the fetcher) is honoured when it asks for longer.
    """
    backoff = timedelta(minutes=interval_minutes) * (2 ** min(failures - 1, 16))
    backoff = min(backoff, MAX_BACKOFF) * (1 + 0.25 * jitter)
    if retry_after is not None:
        backoff = max(backoff, timedelta(seconds=retry_after))
    return now + min(backoff, MAX_BACKOFF * 1.25)


def is_broken(failures: int) -> bool:
    """A source is marked broken (shown to people, polled less) after a run of failures."""
    return failures >= BROKEN_AFTER_FAILURES
