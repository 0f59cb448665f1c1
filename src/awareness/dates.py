"""Dates and times as people read them: one style on every page and in every mail.

A date is written as GOV.UK writes one, ``7 December 2026``: the day without a leading zero
and the month in full. In a column of the librarians' tables, where the full month made the
date wrap onto three lines, it is ``7 Dec 2026``; a time, which only the librarians' pages
show and mostly in table columns, is ``Mon 7 Dec 2026, 09:00``; in the command line's tables,
where a column's every character counts at 80 columns, ``7 Dec 2026 09:00``. Where a time is
shown, the reader is told once which zone it is in: ``UK time``. Names come from the tables
here, never from ``strftime``: its ``%B``, ``%b`` and ``%a`` follow the process's LC_TIME
locale, so a service started under another locale would write its dates in that language.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
SHORT_MONTHS = tuple(month[:3] for month in MONTHS)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SHORT_WEEKDAYS = tuple(day[:3] for day in WEEKDAYS)
UK_ZONES = frozenset({"Europe/London", "GB", "GB-Eire", "Europe/Belfast"})


def long_date(day: date) -> str:
    """``day`` as ``7 December 2026`` (a datetime's own date, in its own zone)."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def short_date(day: date) -> str:
    """``day`` as ``7 Dec 2026``, for a table column."""
    return f"{day.day} {SHORT_MONTHS[day.month - 1]} {day.year}"


def day_month(day: date) -> str:
    """``day`` without its year, for a chart's axis: ``23 Nov``."""
    return f"{day.day} {SHORT_MONTHS[day.month - 1]}"


def local_date(moment: datetime | None, tz: tzinfo, *, short: bool = False) -> str:
    """``moment``'s date in ``tz``, e.g. ``7 December 2026`` (``short``: ``7 Dec 2026``, for
    a table column); "" for none."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return short_date(local) if short else long_date(local)


def local_day(moment: datetime, tz: tzinfo) -> date:
    """The day ``moment`` falls on in ``tz``: in the service's zone, its "today" (an hour
    before midnight UTC in summer is already tomorrow in London)."""
    return moment.astimezone(tz).date()


def local_time(moment: datetime | None, tz: tzinfo) -> str:
    """``moment`` in ``tz`` to the minute, e.g. ``Mon 7 Dec 2026, 09:00``; "" for none."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return (f"{SHORT_WEEKDAYS[local.weekday()]} {local.day} {SHORT_MONTHS[local.month - 1]} "
            f"{local.year}, {local.hour:02d}:{local.minute:02d}")


def short_time(moment: datetime | None, tz: tzinfo) -> str:
    """``moment`` in ``tz`` to the minute, for a table column of the command line:
    ``7 Dec 2026 09:00``; "" for none."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{short_date(local)} {local.hour:02d}:{local.minute:02d}"


def zone_name(tz: tzinfo) -> str:
    """The zone ``tz`` as a reader is told it: ``UK time`` for the service's usual zone (as
    the pages say it), ``UTC``, else its name (``Europe/Dublin time``)."""
    key = str(getattr(tz, "key", tz))
    if key in UK_ZONES:
        return "UK time"
    return "UTC" if key in ("UTC", "Etc/UTC") else f"{key} time"


def clock_time(hour: int, minute: int) -> str:
    """A time of day as GOV.UK writes one in text: ``9am``, ``5:30pm``, ``midday``,
    ``midnight`` (never "12am" or "12pm", which readers take either way)."""
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "midday"
    twelve, half = hour % 12 or 12, "am" if hour < 12 else "pm"
    return f"{twelve}{half}" if minute == 0 else f"{twelve}:{minute:02d}{half}"


def day_and_time(moment: datetime, tz: tzinfo) -> str:
    """``moment`` in ``tz`` as a sentence gives an appointment: ``Monday 7 December at 9am``
    (the year left out: it is days away)."""
    local = moment.astimezone(tz)
    return (f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]} at "
            f"{clock_time(local.hour, local.minute)}")
