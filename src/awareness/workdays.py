"""Working days in England and Wales (pure): bank holidays move bulletins and, when the
library asks, digests (``[schedule] bank_holidays``).

Bank holidays come from the maintained ``holidays`` package, substitute days included, never
from a hand-written list. Every function takes the holiday test as an argument with this
default, so that a test can give its own calendar.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache

import holidays

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


