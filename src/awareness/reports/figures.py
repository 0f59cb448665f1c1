"""The impact report's figures (issue 17). Pure: periods, counts and rates from what storage
read; no clock, no database.

A period is a quarter (``2026-Q3``), a month (``2026-07``) or a year (``2026``), in the
service's time zone, from its first day to the first day after it. Figures counted "in the
period" are events whose time falls in that range; readers are counted as they stood at its
end, and sources' health as it is when the report is made (the service keeps no history of
it). A period not over yet is reported so far: to the moment the report is made, readers as
they are then; one that has not begun is not reported at all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from awareness.drivers.dates import parse_free_date
from awareness.precision import Decisions, percent

_PERIOD = re.compile(r"([0-9]{4})(?:-Q([1-4])|-([0-9]{2}))?")
DUE_FIELD = "fields.due_for_review"  # a driver record's review date, as its history names it


@dataclass(frozen=True)
class Period:
    """A reporting period: its name and its first and first-after local days."""

    name: str
    first: date
    after: date

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as aware datetimes in ``tz``: [start, end)."""
        return (datetime.combine(self.first, time(), tz), datetime.combine(self.after, time(), tz))

    @property
    def kind(self) -> str:
        """``quarter``, ``month`` or ``year``."""
        return "quarter" if "-Q" in self.name else "month" if "-" in self.name else "year"

    @property
    def label(self) -> str:
        """How the period reads in a heading: ``2026-Q3 (1 July – 30 September 2026)``."""
        last = date.fromordinal(self.after.toordinal() - 1)
        return f"{self.name} ({_day(self.first)} – {_day(last)})"


def _day(day: date) -> str:
    months = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
    return f"{day.day} {months[day.month - 1]} {day.year}"


def parse_period(text: str) -> Period:
    """``2026-Q3``, ``2026-07`` or ``2026`` as a ``Period``; ValueError with the forms
    accepted otherwise."""
    found = _PERIOD.fullmatch(text.strip().upper())
    month = int(found.group(3)) if found and found.group(3) else 0
    if found is None or not 0 <= month <= 12 or found.group(3) == "00":
        raise ValueError(f"not a period: {text!r}; write a quarter (2026-Q3), a month "
                         "(2026-07) or a year (2026)")
    year = int(found.group(1))
    if found.group(2):
        first = date(year, 3 * int(found.group(2)) - 2, 1)
        name = f"{year}-Q{found.group(2)}"
        months = 3
    elif month:
        first, name, months = date(year, month, 1), f"{year}-{month:02d}", 1
    else:
        first, name, months = date(year, 1, 1), str(year), 12
    over = first.month - 1 + months
    return Period(name, first, date(year + over // 12, over % 12 + 1, 1))


def period_on(kind: str, day: date) -> Period:
    """The quarter, month or year (``kind``) that ``day`` is in."""
    if kind == "quarter":
        return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    return parse_period(f"{day.year}-{day.month:02d}" if kind == "month" else str(day.year))


def last_complete_quarter(today: date) -> Period:
    """The quarter before the one ``today`` is in: the usual period of a quarterly return."""
    quarter = (today.month - 1) // 3
    year, quarter = (today.year - 1, 4) if quarter == 0 else (today.year, quarter)
    return parse_period(f"{year}-Q{quarter}")


def organisation(address: str) -> str:
    """The organisation a reader belongs to, as their address's domain (lower case)."""
    return address.rpartition("@")[2].strip().lower() or "(unknown)"


@dataclass(frozen=True)
class Count:
    """One labelled number of a table or chart."""

    label: str
    value: int


@dataclass(frozen=True)
class TopicFeedback:
    """The answers on one topic's items in the period, and the share that said "useful"."""

    topic: str
    useful: int
    not_useful: int

    @property
    def answers(self) -> int:
        """Useful and not useful together."""
        return self.useful + self.not_useful

    @property
    def useful_rate(self) -> float | None:
        """useful ÷ answers; None when there were none."""
        return self.useful / self.answers if self.answers else None


@dataclass(frozen=True)
class ReaderComment:
    """A comment a reader wrote, as librarians read it: when (local date), the topic and
    item it is about ("" for a "Tell us more" reply), their answer, the text; never who."""

    on: date
    topic: str
    about: str
    answer: str | None
    text: str


def reader_comments(rows: Iterable[tuple[datetime, str | None, str | None, str | None, str]],
                    names: Mapping[str, str], tz: ZoneInfo) -> tuple[ReaderComment, ...]:
    """The comments as the report lists them, from (when, topic slug, item title, answer,
    comment) rows."""
    return tuple(ReaderComment(when.astimezone(tz).date(),
                               names.get(slug, slug) if slug else "", title or "",
                               answer, text) for when, slug, title, answer, text in rows)


@dataclass(frozen=True)
class ItemsBy:
    """Items of one topic or source in the period: how many, and how many of them reached
    readers (topics: approved or sent without review; sources: matched by any topic)."""

    label: str
    items: int
    onward: int


@dataclass(frozen=True)
class DriverReviews:
    """Driver records whose review date fell in the period: reviewed by that date, after it,
    or not yet; and those overdue at the period's end (or now, for a period not over),
    whenever their review date fell."""

    due: int = 0
    on_time: int = 0
    late: int = 0
    not_reviewed: int = 0
    overdue: int = 0


@dataclass(frozen=True)
class Judged:
    """The librarians' decisions on one topic's or source's matches in the period."""

    label: str
    decisions: Decisions
    flagged: bool = False  # below [reports] precision_threshold on enough decisions

    @property
    def shown(self) -> str:
        """``67% of 12``."""
        return f"{percent(self.decisions.precision)} of {self.decisions.decided}"


@dataclass(frozen=True)
class ImpactReport:
    """Every figure of the report for one period."""

    period: Period
    made_at: datetime
    readers: int
    new_readers: int
    readers_by_organisation: tuple[Count, ...]
    readers_by_topic: tuple[Count, ...]
    sent_by_kind: tuple[Count, ...]
    feedback_by_topic: tuple[TopicFeedback, ...]
    comments: int
    clicks: int | None  # None when clicks are not counted
    items_by_topic: tuple[ItemsBy, ...]
    items_by_source: tuple[ItemsBy, ...]
    precision_by_topic: tuple[Judged, ...]
    precision_by_source: tuple[Judged, ...]
    driver_reviews: DriverReviews
    sources_by_health: tuple[Count, ...]
    source_health: tuple[tuple[str, str, int], ...] = field(default=())  # name, state, items
    comment_texts: tuple[ReaderComment, ...] = field(default=())
    complete: bool = True  # False: the period is not over, and its figures run to made_at

    @property
    def digests_sent(self) -> int:
        """Digests accepted by the mail server in the period."""
        return sum(c.value for c in self.sent_by_kind if c.label == "digest")


def count_by(labels: Iterable[str]) -> tuple[Count, ...]:
    """How often each label occurs, most first, then by label."""
    counted = Counter(labels)
    return tuple(Count(label, n) for label, n in
                 sorted(counted.items(), key=lambda pair: (-pair[1], pair[0].casefold())))


def readers_by_organisation(addresses: Iterable[str]) -> tuple[Count, ...]:
    """Readers per address domain, most first."""
    return count_by(organisation(a) for a in set(addresses))


def readers_by_topic(pairs: Iterable[tuple[int, str]],
                     names: Mapping[str, str]) -> tuple[Count, ...]:
    """Readers per topic (by its name; a topic no longer defined by its slug), most first,
    from (reader id, topic slug) pairs."""
    return count_by(names.get(slug, slug) for _, slug in set(pairs))


def feedback_by_topic(answers: Iterable[tuple[str, str]],
                      names: Mapping[str, str]) -> tuple[TopicFeedback, ...]:
    """Useful and not-useful answers per topic, from (topic slug, answer) pairs, by name."""
    useful: Counter[str] = Counter()
    not_useful: Counter[str] = Counter()
    for slug, answer in answers:
        (useful if answer == "useful" else not_useful)[names.get(slug, slug)] += 1
    return tuple(TopicFeedback(topic, useful[topic], not_useful[topic])
                 for topic in sorted({*useful, *not_useful}, key=str.casefold))


def driver_reviews(due_dates: Sequence[tuple[int, date | None]],
                   moves: Sequence[tuple[int, datetime, str]], period: Period,
                   tz: ZoneInfo, *, until: datetime) -> DriverReviews:
    """Classify the records due for review in ``period``, and count those overdue at
    ``until`` (the period's end, or the moment the report is made when it is not over).

    ``moves`` are history entries that changed a record's review date: (record id, when,
    the date before, as written). A record whose old date was in the period was reviewed on
    time when the change was on or before that date, else late. A record whose current
    review date (``due_dates``) is in the period and never moved has not been reviewed."""
    counts = _reviews_in(due_dates, moves, period, tz)
    return DriverReviews(**counts, overdue=overdue_at(due_dates, moves, until, tz))


def _reviews_in(due_dates: Iterable[tuple[int, date | None]],
                moves: Iterable[tuple[int, datetime, str]], period: Period,
                tz: ZoneInfo) -> dict[str, int]:
    on_time: set[tuple[int, date]] = set()
    late: set[tuple[int, date]] = set()
    for record, when, old in moves:
        due = parse_free_date(old or "")
        if due is None or not period.first <= due < period.after:
            continue
        (on_time if when.astimezone(tz).date() <= due else late).add((record, due))
    reviewed = on_time | late
    waiting = {(record, due) for record, due in due_dates
               if due is not None and period.first <= due < period.after
               and (record, due) not in reviewed}
    late -= on_time  # reviewed on time once, then edited again after the date
    return {"due": len(on_time | late | waiting), "on_time": len(on_time), "late": len(late),
            "not_reviewed": len(waiting)}


def overdue_at(due_dates: Iterable[tuple[int, date | None]],
               moves: Iterable[tuple[int, datetime, str]], until: datetime,
               tz: ZoneInfo) -> int:
    """How many of the records (``due_dates``: each one's current review date) were overdue
    at ``until``: their review date as it stood then (the date before the first change
    after it, if any: ``moves``, as in ``driver_reviews``) was before that day. A record made
    after ``until`` had no date then (its first entry changes it from none)."""
    day = until.astimezone(tz).date()
    stood = {record: due for record, due in due_dates}
    changed: set[int] = set()
    for record, when, old in sorted(moves, key=lambda move: move[1]):
        if when >= until and record in stood and record not in changed:
            stood[record] = parse_free_date(old or "")
            changed.add(record)
    return sum(1 for due in stood.values() if due is not None and due < day)


def items_by(rows: Sequence[tuple[str, int, int]], names: Mapping[str, str]) -> tuple[ItemsBy, ...]:
    """(key, items, onward) rows under their names, most items first."""
    return tuple(sorted((ItemsBy(names.get(key, key), items, onward)
                         for key, items, onward in rows),
                        key=lambda row: (-row.items, row.label.casefold())))
