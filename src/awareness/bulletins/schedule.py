"""When an issue goes out (pure): the bulletin's weekly slot, moved past bank holidays.

Times are worked out in the library's time zone (Europe/London), so 09:00 stays 09:00 across
the clock changes. A slot on a bank holiday in England and Wales moves to the next working
day at the same time; the editors' reminder goes the working day before. Bank holidays come
from the maintained ``holidays`` package (the substitute days included), never a hand-written
list.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from awareness.bulletins.config import DAYS

IsHoliday = Callable[[date], bool]


@lru_cache(maxsize=64)
def _england_and_wales(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_bank_holiday(day: date) -> bool:
    """Is ``day`` a bank holiday in England and Wales?"""
    return day in _england_and_wales(day.year)


def is_working_day(day: date, is_holiday: IsHoliday = is_bank_holiday) -> bool:
    """Monday to Friday and not a bank holiday."""
    return day.weekday() < 5 and not is_holiday(day)


def next_working_day(day: date, is_holiday: IsHoliday = is_bank_holiday) -> date:
    """``day`` itself when it is a working day, else the next one."""
    while not is_working_day(day, is_holiday):
        day += timedelta(days=1)
    return day


def working_day_before(day: date, is_holiday: IsHoliday = is_bank_holiday) -> date:
    """The last working day before ``day``."""
    day -= timedelta(days=1)
    while not is_working_day(day, is_holiday):
        day -= timedelta(days=1)
    return day


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


def reminder_time(due: datetime, tz: ZoneInfo,
                  is_holiday: IsHoliday = is_bank_holiday) -> datetime:
    """When editors are reminded: the working day before the issue is due, at the same time."""
    local = due.astimezone(tz)
    day = working_day_before(local.date(), is_holiday)
    return datetime.combine(day, local.time(), tzinfo=tz)
