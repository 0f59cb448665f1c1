"""When an issue goes out (pure): the bulletin's weekly slot, moved past bank holidays.

Times are worked out in the library's time zone (Europe/London), so 09:00 stays 09:00 across
the clock changes. A slot on a bank holiday in England and Wales (``awareness.workdays``)
moves to the next working day at the same time; the editors' reminder goes the working day
before.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from awareness.bulletins.config import DAYS
from awareness.workdays import IsHoliday, is_bank_holiday, next_working_day, working_day_before


def send_slot(after: datetime, *, day: str, at: tuple[int, int], tz: ZoneInfo,
              is_holiday: IsHoliday = is_bank_holiday) -> datetime:
    """The first send time after ``after``: the next ``day`` at ``at`` (hour, minute) local
    time, moved to the next working day when that day is a bank holiday (a weekend send day
    stays where it is: a library that chose Saturday meant it)."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    local = after.astimezone(tz)
    wanted = DAYS.index(day)
    candidate = local.date() + timedelta(days=(wanted - local.weekday()) % 7)
    while True:
        moved = next_working_day(candidate, is_holiday) if is_holiday(candidate) else candidate
        slot = datetime.combine(moved, time(*at), tzinfo=tz)
        if slot > after:
            return slot
        candidate += timedelta(days=7)


def next_due(now: datetime, previous_due: datetime | None, *, day: str, at: tuple[int, int],
             tz: ZoneInfo, is_holiday: IsHoliday = is_bank_holiday) -> datetime:
    """When the next issue is due: the first slot after both ``now`` and the previous issue's
    own slot. An issue sent early has taken its slot; counting from ``now`` alone would give
    the next issue that same slot, and readers two issues in one week. A late issue (held,
    then approved) does not leave its successor due in the past either."""
    after = max(now, previous_due) if previous_due is not None else now
    return send_slot(after, day=day, at=at, tz=tz, is_holiday=is_holiday)


def reminder_time(due: datetime, tz: ZoneInfo,
                  is_holiday: IsHoliday = is_bank_holiday) -> datetime:
    """When editors are reminded: the working day before the issue is due, at the same time."""
    local = due.astimezone(tz)
    day = working_day_before(local.date(), is_holiday)
    return datetime.combine(day, local.time(), tzinfo=tz)
