"""When digests go: which runs a restarted service has missed, and which days send (pure).

With ``[schedule] bank_holidays = "next-working-day"`` no digest goes on a bank holiday in
England and Wales: a daily digest's items wait for the next working day's, and a weekly
digest whose day is a bank holiday goes on the next working day at the same time.

The scheduler keeps its jobs in memory, so a service that was down at 07:00 would otherwise
skip that morning's digests. At start-up it asks ``missed_runs`` which frequencies' latest
scheduled time has passed in the current period, and sends those; the outbox's unique
(subscriber, period) key makes that a no-op for anyone who already got theirs (RELIABILITY S3).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from awareness.workdays import IsHoliday, is_bank_holiday, next_working_day

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BANK_HOLIDAYS = ("send", "next-working-day")


def missed_runs(now: datetime, tz: ZoneInfo, *, daily_time: str, weekly_day: str,
                weekly_time: str, skip_holidays: bool = False,
                is_holiday: IsHoliday = is_bank_holiday) -> list[str]:
    """Frequencies whose send time in the current period is already past at ``now`` (with
    ``skip_holidays``, none on a bank holiday, and the week's send day moved past one)."""
    local = now.astimezone(tz)
    today = local.date()
    missed = []
    if local.time() >= _clock(daily_time) and not (skip_holidays and is_holiday(today)):
        missed.append("daily")
    send_day = weekly_send_day(today, weekly_day, skip_holidays=skip_holidays,
                               is_holiday=is_holiday)
    if (today, local.time()) >= (send_day, _clock(weekly_time)) and not (
            skip_holidays and is_holiday(today)):
        missed.append("weekly")
    return missed


def weekly_send_day(today: date, weekly_day: str, *, skip_holidays: bool,
                    is_holiday: IsHoliday = is_bank_holiday) -> date:
    """The day this ISO week's weekly digests go: ``weekly_day``, or with ``skip_holidays``
    the next working day when it is a bank holiday."""
    day = today - timedelta(days=today.weekday()) + timedelta(days=WEEKDAYS.index(weekly_day))
    return next_working_day(day, is_holiday) if skip_holidays and is_holiday(day) else day


def sends_today(frequency: str, today: date, *, weekly_day: str, skip_holidays: bool,
                is_holiday: IsHoliday = is_bank_holiday) -> bool:
    """Does the scheduled run of ``frequency`` send on ``today``? (Always, unless
    ``skip_holidays``: then never on a bank holiday, and weekly on its moved day.)"""
    if not skip_holidays:
        return True
    if is_holiday(today):
        return False
    if frequency == "weekly":
        return today == weekly_send_day(today, weekly_day, skip_holidays=True,
                                        is_holiday=is_holiday)
    return True


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
