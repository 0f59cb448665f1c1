"""Which digest runs a restarted service has missed (pure).

The scheduler keeps its jobs in memory, so a service that was down at 07:00 would otherwise
skip that morning's digests. At start-up it asks ``missed_runs`` which frequencies' latest
scheduled time has passed in the current period, and sends those; the outbox's unique
(subscriber, period) key makes that a no-op for anyone who already got theirs (RELIABILITY S3).
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def missed_runs(now: datetime, tz: ZoneInfo, *, daily_time: str, weekly_day: str,
                weekly_time: str) -> list[str]:
    """Frequencies whose send time in the current period is already past at ``now``."""
    local = now.astimezone(tz)
    missed = []
    if local.time() >= _clock(daily_time):
        missed.append("daily")
    weekday = WEEKDAYS.index(weekly_day)
    if (local.weekday(), local.time()) >= (weekday, _clock(weekly_time)):
        missed.append("weekly")
    return missed


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
