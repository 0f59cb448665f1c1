"""The librarians' workbench pages as data (pure; issue 14): what a search of the stored items
asks for, one page of an answer, matches counted by week, the outbox as librarians list it,
and when the next digests go.

The web pages and their JSON read these values; the service fills them from storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from awareness.digests.schedule import WEEKDAYS, sends_today
from awareness.errors import AwarenessError
from awareness.mail.compose import mask_address
from awareness.mail.outbox import kind_name
from awareness.workdays import IsHoliday, is_bank_holiday

PAGE_SIZE = 50
MAX_QUERY = 4000
T = TypeVar("T")
WEEKS = 8  # matches per week over this many weeks on the topics page
SEND_STATUSES = ("pending", "sending", "sent", "failed")
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def _page_number(params: Mapping[str, str]) -> int:
    page = params.get("page", "1").strip() or "1"
    if not page.isdigit() or not 1 <= int(page) <= 1_000_000:
        raise AwarenessError(f"page must be a whole number from 1, not {page!r}")
    return int(page)


def _day(params: Mapping[str, str], name: str) -> date | None:
    text = params.get(name, "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise AwarenessError(f"{name} must be a date such as 2026-11-30, not {text[:40]!r}") \
            from None
    if not FIRST_DAY <= day <= LAST_DAY:  # and the day after stays a date (9999-12-31)
        raise AwarenessError(f"{name} must be between {FIRST_DAY} and {LAST_DAY}")
    return day


@dataclass(frozen=True)
class ItemSearch:
    """What the item list is asked for: words in the search language, a source, a topic
    (items it matched), first seen from and to (local days, both included), a page."""

    text: str = ""
    spelling: str = "none"
    source: str = ""
    topic: str = ""
    start: date | None = None
    end: date | None = None
    page: int = 1

    def query(self, **changes: object) -> dict[str, str]:
        """The search as GET parameters (empty ones left out), with ``changes`` applied."""
        values = {"q": self.text, "spelling": "" if self.spelling == "none" else self.spelling,
                  "source": self.source, "topic": self.topic,
                  "from": self.start.isoformat() if self.start else "",
                  "to": self.end.isoformat() if self.end else "",
                  "page": str(self.page) if self.page > 1 else "", **changes}
        return {name: str(value) for name, value in values.items() if value}

    def window(self, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """(from, before) as aware instants: midnight of ``start``, midnight after ``end``."""
        start = datetime.combine(self.start, time(), tzinfo=tz) if self.start else None
        end = (datetime.combine(self.end + timedelta(days=1), time(), tzinfo=tz)
               if self.end else None)
        return start, end


def item_search_from(params: Mapping[str, str], sources: Iterable[str],
                     topics: Iterable[str]) -> ItemSearch:
    """The search a request's parameters ask for; an AwarenessError names what is wrong."""
    source, topic = params.get("source", "").strip(), params.get("topic", "").strip()
    known_sources, known_topics = set(sources), set(topics)
    if source and source not in known_sources:
        raise AwarenessError(f"no source {source[:64]!r}")
    if topic and topic not in known_topics:
        raise AwarenessError(f"no topic {topic[:100]!r}")
    start, end = _day(params, "from"), _day(params, "to")
    if start and end and end < start:
        raise AwarenessError("the 'to' date is before the 'from' date")
    spelling = "uk-us" if params.get("spelling") == "uk-us" else "none"
    return ItemSearch(params.get("q", "")[:MAX_QUERY].strip(), spelling, source, topic,
                      start, end, _page_number(params))


@dataclass(frozen=True)
class ListedItem:
    """A stored item as the item list shows it."""

    id: int
    source_id: str
    publisher: str
    title: str
    link: str | None
    published_at: datetime | None
    first_seen_at: datetime
    baseline: bool

    def as_json(self) -> dict[str, object]:
        """JSON-ready (times as ISO text)."""
        return {**self.__dict__,
                "published_at": self.published_at.isoformat() if self.published_at else None,
                "first_seen_at": self.first_seen_at.isoformat()}


@dataclass(frozen=True)
class Paged(Generic[T]):
    """One page of a listing: its rows, how many there are in all, which page this is."""

    rows: Sequence[T]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def page_of(rows: Sequence[T], page: int) -> Paged[T]:
    """Page ``page`` (from 1) of ``rows``, PAGE_SIZE a page."""
    start = (page - 1) * PAGE_SIZE
    return Paged(rows[start:start + PAGE_SIZE], len(rows), page)


def weekly_counts(created: Iterable[datetime], now: datetime, weeks: int = WEEKS) -> list[int]:
    """How many of ``created`` fall in each of the last ``weeks`` seven-day spans, oldest
    first (the last span ends at ``now``)."""
    counts = [0] * weeks
    for moment in created:
        back = (now - moment) // timedelta(days=7)
        if 0 <= back < weeks:
            counts[weeks - 1 - back] += 1
    return counts


@dataclass(frozen=True)
class SendSearch:
    """What the sends list is asked for: a kind, a status, a page."""

    kind: str = ""
    status: str = ""
    page: int = 1

    def query(self, **changes: object) -> dict[str, str]:
        """The search as GET parameters (empty ones left out), with ``changes`` applied."""
        values = {"kind": self.kind, "status": self.status,
                  "page": str(self.page) if self.page > 1 else "", **changes}
        return {name: str(value) for name, value in values.items() if value}


def send_search_from(params: Mapping[str, str], kinds: Iterable[str]) -> SendSearch:
    """The search a request's parameters ask for; an AwarenessError names what is wrong."""
    kind, status = params.get("kind", "").strip(), params.get("status", "").strip()
    if kind and kind not in set(kinds):
        raise AwarenessError(f"no messages of kind {kind[:40]!r}")
    if status and status not in SEND_STATUSES:
        raise AwarenessError(f"unknown status {status[:40]!r}: use one of "
                             f"{', '.join(SEND_STATUSES)}")
    return SendSearch(kind, status, _page_number(params))


@dataclass(frozen=True)
class Sent:
    """An outbox row as librarians list it: never the message, the address masked;
    ``description`` what the message is, in words (``mail.outbox.describe``)."""

    id: int
    kind: str
    key: str
    status: str
    recipient: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    subscriber_id: int | None = None
    description: str = ""

    def sendable_now(self, now: datetime) -> bool:
        """May an editor make it due now (``storage.overview.due_now`` holds the same rule)?
        A failed message, or a pending one waiting out its back-off after a failed attempt
        (the mail server is mended, and the back-off would wait on)."""
        return self.status == "failed" or (
            self.status == "pending" and self.attempts > 0
            and self.next_attempt_at is not None and self.next_attempt_at > now)

    def as_json(self) -> dict[str, object]:
        """JSON-ready (times as ISO text)."""
        return {**self.__dict__, **{name: value.isoformat() if value else None for name, value in
                                    (("created_at", self.created_at), ("sent_at", self.sent_at),
                                     ("next_attempt_at", self.next_attempt_at))}}


def listed(row: Sent, describe: Callable[[str, str], str]) -> Sent:
    """The row as the sends page lists it: its recipient masked (``a…@trust.nhs.uk``), and
    what it is in words (``describe``: a kind and a key in, a description out)."""
    return replace(row, recipient=mask_address(row.recipient),
                   description=describe(row.kind, row.key))


@dataclass(frozen=True)
class NextSend:
    """When a digest frequency or a bulletin goes next, and (for a bulletin issue) its state."""

    name: str
    at: datetime
    state: str = ""
    link: str = ""


def next_digest_send(frequency: str, now: datetime, tz: ZoneInfo, *, daily_time: str,
                     weekly_day: str, weekly_time: str, skip_holidays: bool,
                     is_holiday: IsHoliday = is_bank_holiday) -> datetime:
    """The first scheduled run of ``frequency`` after ``now`` that sends (bank holidays
    skipped when ``skip_holidays``), as an aware time in ``tz``."""
    local = now.astimezone(tz)
    clock = _clock(daily_time if frequency == "daily" else weekly_time)
    for ahead in range(0, 15):
        day = local.date() + timedelta(days=ahead)
        if frequency == "weekly" and not skip_holidays and day.weekday() != WEEKDAYS.index(
                weekly_day):
            continue
        when = datetime.combine(day, clock, tzinfo=tz)
        if when > local and sends_today(frequency, day, weekly_day=weekly_day,
                                        skip_holidays=skip_holidays, is_holiday=is_holiday):
            return when
    raise AwarenessError(f"no {frequency} digest in the next two weeks")  # pragma: no cover


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Dashboard:
    """What a librarian's week starts with: pending reviews by topic, sources that need a
    person, the next sends, driver records due for review, and messages not sent."""

    pending: list[tuple[str, str, int]]  # topic slug, title, pending matches
    sources: list[dict[str, object]]  # health rows of broken, gone, paused or stale sources
    sends: list[NextSend]
    records_due: list[tuple[str, str, str, date | None]]  # slug, title, due status, due date
    records: int  # driver records and case studies held, due or not
    unsent: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, status): count
    retrying: int = 0  # pending messages whose last try failed
    retry_reason: str = ""  # why the latest of those tries failed
    placeholders: list[str] = field(default_factory=list)  # addresses mail to goes nowhere
    records_attention: int = 0  # records on their members' needs-attention lists
    records_no_member: int = 0  # published records no one is responsible for
    records_no_review_date: int = 0  # a member's published records with no review date

    @property
    def unsent_by_name(self) -> list[tuple[str, str, int]]:
        """``unsent`` as (kind, status, count) in the order a person reads the list: by the
        name shown ("Topic digests, failed": ``mail.outbox.kind_name`` and the status),
        then by the kind itself (two kinds another release wrote may read alike)."""
        def shown(entry: tuple[tuple[str, str], int]) -> tuple[str, str, str]:
            (kind, status), _ = entry
            return kind_name(kind), status, kind
        return [(kind, status, count)
                for (kind, status), count in sorted(self.unsent.items(), key=shown)]

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "pending": [{"topic": slug, "title": title, "count": count}
                        for slug, title, count in self.pending],
            "sources": self.sources,
            "sends": [{"name": s.name, "at": s.at.isoformat(), "state": s.state}
                      for s in self.sends],
            "records_due": [{"slug": slug, "title": title, "due": status,
                             "review_date": when.isoformat() if when else None}
                            for slug, title, status, when in self.records_due],
            "records": self.records,
            "records_needing_attention": self.records_attention,
            "records_no_member": self.records_no_member,
            "records_no_review_date": self.records_no_review_date,
            "unsent": [{"kind": kind, "status": status, "count": count}
                       for (kind, status), count in sorted(self.unsent.items())],
            "retrying": {"count": self.retrying, "reason": self.retry_reason},
            "placeholders": self.placeholders,
        }
