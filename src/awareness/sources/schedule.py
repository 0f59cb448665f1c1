"""When to look at a source again (pure): the decisions behind polling and backoff."""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=24)
BROKEN_AFTER_FAILURES = 10
CADENCE_WINDOW = timedelta(days=7)  # how far back a source's posting rate is measured
QUIET_STRETCH = 8  # a quiet source is checked at most this many times its interval apart
LONGEST_INTERVAL = timedelta(hours=24)


def is_due(next_check_at: datetime | None, now: datetime) -> bool:
    """Is a source whose next check is ``next_check_at`` due at ``now``?"""
    return next_check_at is None or next_check_at <= now


def next_check_after_success(now: datetime, interval_minutes: int, *,
                             recent_items: int | None = None,
                             max_age: float | None = None) -> datetime:
    """When to check a healthy source again.

    Its interval (from sources.toml) is the shortest wait. A source that posts rarely is
    checked less often, from its observed cadence (``recent_items`` new in the last
    ``CADENCE_WINDOW``, as Miniflux's entry-frequency scheduler does): the window divided by
    one more than that count, at most ``QUIET_STRETCH`` intervals and a day. The server's
    freshness (``max_age``, seconds) is a floor: nothing new can be seen sooner.
    """
    interval = timedelta(minutes=interval_minutes)
    wait = interval
    if recent_items is not None:
        longest = max(interval, min(interval * QUIET_STRETCH, LONGEST_INTERVAL))
        wait = min(max(CADENCE_WINDOW / (recent_items + 1), interval), longest)
    if max_age is not None:
        wait = max(wait, min(timedelta(seconds=max_age), LONGEST_INTERVAL))
    return now + wait


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
