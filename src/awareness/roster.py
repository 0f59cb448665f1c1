"""The librarians' list of subscribers: each person's status, what a search asks for, and one
page of the answer (pure; issue 12).

    pending        a sign-up whose confirmation link has not been followed (``signups``)
    active         confirmed and subscribed
    paused         active, but nothing is sent until ``paused_until`` (annual leave)
    suspended      stopped because of the address itself: a hard bounce, or a librarian,
                   with the reason
    unsubscribed   they (or a librarian on their behalf) stopped every digest

``storage.subscribers`` filters and counts by the same rules in SQL (``status_case``); a test
holds the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from awareness.digests.subscribers import Subscriber
from awareness.errors import AwarenessError
from awareness.signup import PendingSignup

STATUSES = ("pending", "active", "paused", "suspended", "unsubscribed")
PAGE_SIZE = 50
MAX_SEARCH = 320  # the longest address


def status_of(subscriber: Subscriber, now: datetime) -> str:
    """The subscriber's status at ``now`` (one of ``STATUSES``)."""
    if subscriber.suspended_reason is not None:
        return "suspended"
    if subscriber.unsubscribed_at is not None:
        return "unsubscribed"
    if subscriber.confirmed_at is None:
        return "pending"
    return "paused" if subscriber.paused(now) else "active"


@dataclass(frozen=True)
class Search:
    """What the list is asked for: an address fragment, a status, a topic (slug), a page."""

    text: str = ""
    status: str = ""
    topic: str = ""
    page: int = 1

    def query(self, **changes: object) -> dict[str, str]:
        """The search as GET parameters (empty ones left out), with ``changes`` applied."""
        values = {"q": self.text, "status": self.status, "topic": self.topic,
                  "page": str(self.page) if self.page > 1 else "", **changes}
        return {name: str(value) for name, value in values.items() if value}


def search_from(params: Mapping[str, str], topics: Mapping[str, str]) -> Search:
    """The search a request's parameters ask for; an AwarenessError names what is wrong.
    ``topics`` maps every known topic slug to its title."""
    status = params.get("status", "").strip()
    if status and status not in STATUSES:
        raise AwarenessError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
    topic = params.get("topic", "").strip()
    if topic and topic not in topics:
        raise AwarenessError(f"no topic {topic!r} (known topics: {', '.join(topics) or 'none'})")
    page = params.get("page", "1").strip() or "1"
    if not page.isdigit() or not 1 <= int(page) <= 1_000_000:
        raise AwarenessError(f"page must be a whole number from 1, not {page!r}")
    return Search(params.get("q", "").strip().lower()[:MAX_SEARCH], status, topic, int(page))


@dataclass(frozen=True)
class Chosen:
    """A topic someone gets (or asked for), by slug and title, and how often."""

    slug: str
    title: str
    frequency: str


@dataclass(frozen=True)
class Entry:
    """One person as the list shows them. ``subscriber_id`` is None for a pending sign-up
    (it has no page of its own); ``topics`` are in title order. ``gets_nothing``: active
    (or paused), yet nothing can be sent to them: no topic, and the bulletins alone while
    no bulletin goes to subscribers (its file's audience changed, or the file removed)."""

    email: str
    status: str
    topics: tuple[Chosen, ...]
    created_at: datetime
    subscriber_id: int | None = None
    confirmed_at: datetime | None = None
    last_digest: datetime | None = None
    paused_until: datetime | None = None
    suspended_reason: str | None = None
    bulletins: bool = False
    gets_nothing: bool = False

    def as_json(self) -> dict[str, object]:
        """The entry as JSON-ready values (times as ISO text). ``topics`` (slugs) and
        ``active`` are what ``subscribers list --json`` printed before statuses."""
        return {
            "id": self.subscriber_id, "email": self.email, "status": self.status,
            "active": self.status in ("active", "paused"),
            "topics": [c.slug for c in self.topics],
            "subscriptions": [{"topic": c.slug, "title": c.title, "frequency": c.frequency}
                              for c in self.topics],
            "created_at": _iso(self.created_at), "confirmed_at": _iso(self.confirmed_at),
            "last_digest": _iso(self.last_digest), "paused_until": _iso(self.paused_until),
            "suspended_reason": self.suspended_reason, "bulletins": self.bulletins,
            "gets_nothing": self.gets_nothing,
        }


def subscriber_entry(subscriber: Subscriber, now: datetime, titles: Mapping[str, str],
                     last_digest: datetime | None = None, *, bulletins_sent: bool) -> Entry:
    """How the list shows a stored subscriber (``bulletins_sent``: does any bulletin go to
    subscribers now)."""
    status = status_of(subscriber, now)
    return Entry(subscriber.email, status, _titled(subscriber.subscriptions, titles),
                 subscriber.created_at, subscriber.id, subscriber.confirmed_at, last_digest,
                 subscriber.paused_until, subscriber.suspended_reason, subscriber.bulletins,
                 gets_nothing=status in ("active", "paused")
                 and subscriber.has_nothing(bulletins_sent=bulletins_sent))


def waiting(signups: Iterable[PendingSignup], topic: str = "") -> list[PendingSignup]:
    """The sign-ups to list as pending: the latest of each address (someone who asked
    twice is one person), only those that chose ``topic`` when given, by address."""
    latest: dict[str, PendingSignup] = {}
    for pending in signups:
        if pending.email not in latest or pending.created_at > latest[pending.email].created_at:
            latest[pending.email] = pending
    return [latest[email] for email in sorted(latest)
            if not topic or any(c.topic == topic for c in latest[email].choices)]


def signup_entry(pending: PendingSignup, titles: Mapping[str, str]) -> Entry:
    """How the list shows a sign-up waiting for confirmation."""
    return Entry(pending.email, "pending",
                 _titled([(c.topic, c.frequency) for c in pending.choices], titles),
                 pending.created_at, bulletins=pending.bulletins)


def _titled(choices: Iterable[tuple[str, str]],
            titles: Mapping[str, str]) -> tuple[Chosen, ...]:
    chosen = [Chosen(slug, titles.get(slug, slug), how) for slug, how in choices]
    return tuple(sorted(chosen, key=lambda c: c.title.casefold()))


@dataclass(frozen=True)
class Window:
    """Which rows of two lists shown one after the other make up a page: ``first`` slices
    the first list; the second list is read from ``second_offset``, at most
    ``second_limit`` rows."""

    first: slice
    second_offset: int
    second_limit: int


def window(offset: int, size: int, first_count: int) -> Window:
    """The page of ``size`` rows from ``offset`` over a first list of ``first_count`` rows
    followed by a second list (pending sign-ups, then subscribers)."""
    start = min(offset, first_count)
    end = min(offset + size, first_count)
    return Window(slice(start, end), max(0, offset - first_count), size - (end - start))


@dataclass(frozen=True)
class Page:
    """One page of the list: its entries, how many match the search, and how many of those
    have each status (the status filter aside)."""

    search: Search
    entries: list[Entry]
    total: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @property
    def everyone(self) -> int:
        return sum(self.counts.values())

    def as_json(self) -> dict[str, object]:
        """The page as JSON-ready values."""
        return {"page": self.search.page, "pages": self.pages, "total": self.total,
                "counts": self.counts, "subscribers": [e.as_json() for e in self.entries]}


def page_of(search: Search, *, pending: list[PendingSignup], counts: Mapping[str, int],
            subscribers: Iterable[Subscriber], last_digests: Mapping[int, datetime],
            now: datetime, titles: Mapping[str, str], bulletins_sent: bool,
            size: int = PAGE_SIZE) -> Page:
    """The page ``search`` asked for. ``pending`` are the sign-ups ``waiting`` gave (all of
    them, the page's slice is taken here); ``counts`` are the stored subscribers' by status
    and ``subscribers`` the stored ones on this page (read at ``window(…).second_offset``);
    ``bulletins_sent``: does any bulletin go to subscribers now."""
    listed = pending if search.status in ("", "pending") else []
    every = {status: counts.get(status, 0) for status in STATUSES}
    every["pending"] += len(pending)
    stored = counts.get(search.status, 0) if search.status else sum(counts.values())
    shown = listed[window((search.page - 1) * size, size, len(listed)).first]
    entries = [signup_entry(p, titles) for p in shown] + [
        subscriber_entry(s, now, titles, last_digests.get(s.id), bulletins_sent=bulletins_sent)
        for s in subscribers]
    return Page(search, entries, len(listed) + stored, every)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
