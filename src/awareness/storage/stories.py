"""Stories: joining a new item to the same document stored from another source.

Race-free on both databases (issue 11: on PostgreSQL two pollers storing one report from two
publishers at the same moment made two stories, and a digest sent it twice). ``lock`` is
taken in the write transaction before the candidates are read and held until commit:

* SQLite: nothing to do; a write transaction (``BEGIN IMMEDIATE``) already excludes every
  other writer, so the candidates it reads include everything committed before it.
* PostgreSQL: a transaction-level advisory lock. One lock for all stories, not one per key,
  because a near-identical title has no key to lock on; it is held only from the story step
  to the commit of a poll that stored new (non-baseline) items, a few milliseconds. After it
  is granted, the READ COMMITTED candidate query sees every item committed before, so of two
  racing transactions the second always sees the first one's items.

The lock is taken *before* a poll inserts new (non-baseline) items, so such items get their
ids in the order their transactions commit. That is what lets ``RecentTitles`` read the
near-identical-title candidates once per poll run and then only the rows above the highest id
it has seen (issue 11: each source with new items used to read up to 5,000 recent items
again, and a steady-state poll's CPU per source grew with the number of sources).
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, text, update

from awareness.sources import identity
from awareness.sources.near_titles import NearTitles
from awareness.storage.models import Item

# Where a new item looks for the same document from other sources (a story).
LOOKBACK = timedelta(days=30)
# Only the near-identical-title comparison keeps a window of items rather than looking up
# equal values; it keeps at most this many, the most recently seen (docs/item-identity.md).
FUZZY_CANDIDATES = 5_000
# ... and gives each new item at most this many of them, the most recently seen first: when
# many recent titles are near-identical to one (a release syndicated everywhere), the story
# is among the latest, and comparing every one of them was most of a poll (issue 11).
NEAR_PER_ITEM = 50
# pg_advisory_xact_lock's key for "assigning stories": any fixed 64-bit number of ours.
_LOCK_KEY = 0x61776172_73746F72  # "awarstor"

_STORY_COLUMNS = (Item.id, Item.link, Item.title, Item.story_id, Item.published_at,
                  Item.first_seen_at, Item.doi)
_ASSIGN = update(Item).where(Item.id == bindparam("item_id")).values(
    story_id=bindparam("story"))


def lock(conn: Connection) -> None:
    """Make story assignment exclusive until this transaction ends (see the module)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def candidates(conn: Connection, source_id: str, mine: list[identity.KnownItem],
               now: datetime, titles: RecentTitles | None = None) -> list[identity.KnownItem]:
    """The items of other sources seen in the last ``LOOKBACK`` that may be the same document
    as one of ``mine``, most recently seen first: ``find_story`` over them gives the answer it
    gives over all such items (up to ``FUZZY_CANDIDATES`` near-identical-title candidates).

    Same normalised link, same DOI and same title key are index lookups (``link_key``,
    ``doi``, ``title_key``); near-identical titles come from ``titles`` (the run's recent
    titles, read here when not given), only those that can be near-identical to a new item's:
    published within ``STORY_WINDOW`` of it, with a title key of a length and with as many
    shared bigrams as ``TITLE_SIMILARITY`` needs.
    """
    found: dict[int, tuple[datetime, int, identity.KnownItem]] = {}
    same = _same_document(mine)
    if same:
        for row in conn.execute(select(*_STORY_COLUMNS).where(
                Item.source_id != source_id, Item.first_seen_at >= now - LOOKBACK,
                Item.baseline.is_(False), or_(*same))):
            found[row.id] = (row.first_seen_at, row.id, identity.KnownItem(
                id=row.id, key="", link=row.link, title=row.title, summary_text="",
                story_id=row.story_id, published=row.published_at or row.first_seen_at,
                doi=row.doi))
    long = [item for item in mine if identity.compared_fuzzily(item.title)]
    if long:
        if titles is None:
            titles = RecentTitles()
            titles.refresh(conn, now)
        for recent in titles.near(source_id, long, now):
            found.setdefault(recent.id, (recent.first_seen_at, recent.id, recent.known))
    return [known for _, _, known in sorted(found.values(), key=lambda f: f[:2], reverse=True)]


@dataclass(frozen=True)
class _Recent:
    """A recent item as the near-identical-title comparison needs it."""

    id: int
    source_id: str
    first_seen_at: datetime
    known: identity.KnownItem


class RecentTitles:
    """The near-identical-title candidates of one poll run: at most ``FUZZY_CANDIDATES`` of
    the most recently seen new items with long titles, read once, then only the rows stored
    since (see the module docstring). Read and extended only under ``lock``.

    Their title keys are indexed once for the run by their bigrams (``NearTitles``), so a new
    item is compared only with the few titles that share enough of its bigrams, not with
    every title of a similar length (issue 11: that scan was 11 ms of CPU per new item).

    An item whose title is edited keeps its old title here until the next run; its new title
    key is still found by the exact lookup.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._high_water: int | None = None
        self._titles: NearTitles[_Recent] = NearTitles()
        # (first seen, id) of every indexed item, least recent first: the next to let go.
        self._oldest: list[tuple[datetime, int]] = []

    def refresh(self, conn: Connection, now: datetime) -> None:
        """Read what was stored since the last refresh (everything recent, the first time)."""
        with self._mutex:
            query = select(*_RECENT_COLUMNS).where(
                Item.baseline.is_(False),
                func.length(Item.title) >= identity.MIN_FUZZY_TITLE_CHARS)
            if self._high_water is None:
                latest = conn.execute(query.where(Item.first_seen_at >= now - LOOKBACK)
                                      .order_by(Item.first_seen_at.desc(), Item.id.desc())
                                      .limit(FUZZY_CANDIDATES)).all()
                rows = latest[::-1]  # added least recent first: NearTitles looks from the latest
                self._high_water = conn.scalar(
                    select(func.max(Item.id)).where(Item.baseline.is_(False))) or 0
            else:
                rows = conn.execute(query.where(Item.id > self._high_water)
                                    .order_by(Item.id)).all()
            self._high_water = max([self._high_water, *(row.id for row in rows)])
            for row in rows:
                key = identity.cached_title_key(row.title)
                if len(key) >= identity.MIN_FUZZY_TITLE:
                    self._titles.add(row.id, key, _recent(row))
                    heapq.heappush(self._oldest, (row.first_seen_at, row.id))
            while len(self._oldest) > FUZZY_CANDIDATES:  # keep the most recently seen
                self._titles.remove(heapq.heappop(self._oldest)[1])

    def near(self, source_id: str, mine: list[identity.KnownItem],
             now: datetime) -> list[_Recent]:
        """The recent items of other sources that could be near-identical to one of
        ``mine``: seen in the last ``LOOKBACK``, and for one of them, published within
        ``STORY_WINDOW`` of it, with a title key of a length ``TITLE_SIMILARITY`` allows,
        sharing as many bigrams with its key as ``could_be_similar`` asks."""
        since = now - LOOKBACK
        found: dict[int, _Recent] = {}
        with self._mutex:
            for item in mine:
                def comparable(recent: _Recent, item: identity.KnownItem = item) -> bool:
                    return (recent.source_id != source_id and recent.first_seen_at >= since
                            and identity.close_in_time(item.published, recent.known.published))

                for recent in self._titles.near(identity.cached_title_key(item.title),
                                                keep=comparable, limit=NEAR_PER_ITEM):
                    found[recent.id] = recent
        return list(found.values())


_RECENT_COLUMNS = (Item.id, Item.source_id, Item.title, Item.story_id, Item.published_at,
                   Item.first_seen_at)


def _recent(row: Any) -> _Recent:
    return _Recent(row.id, row.source_id, row.first_seen_at,
                   identity.KnownItem(id=row.id, key="", link=None, title=row.title,
                                      summary_text="", story_id=row.story_id,
                                      published=row.published_at or row.first_seen_at))


def _same_document(mine: list[identity.KnownItem]) -> list[Any]:
    """Conditions for the items that are the same document by link, DOI or title key."""
    same: list[Any] = []
    links = {key for key in map(identity.link_digest, (item.link for item in mine)) if key}
    if links:
        same.append(Item.link_key.in_(links))
    dois = {item.doi for item in mine if item.doi}
    if dois:
        same.append(Item.doi.in_(dois))
    titles = {item.id: identity.title_digest(item.title) for item in mine}
    titled = [item for item in mine if titles[item.id]]
    if titled:
        same.append(Item.title_key.in_({titles[item.id] for item in titled}) & _within(titled))
    return same


def _within(items: list[identity.KnownItem]) -> Any:
    """Published (or, undated, first seen) within the story window of one of ``items``."""
    published = func.coalesce(Item.published_at, Item.first_seen_at)
    dates = (item.published for item in items if item.published)
    return or_(*(published.between(first, last)
                 for first, last in identity.story_windows(dates)))


def assign(conn: Connection, stories: Mapping[int, int]) -> None:
    """Join items to stories: item id → story id."""
    if stories:
        conn.execute(_ASSIGN, [{"item_id": item, "story": story}
                               for item, story in stories.items()])


def join(conn: Connection, source_id: str, new: Iterable[identity.KnownItem],
         now: datetime, titles: RecentTitles | None = None) -> dict[int, int]:
    """Find and assign the stories of a source's ``new`` items; item id → story id. Call it
    under ``lock`` (taken here if the caller has not)."""
    mine = list(new)
    if not mine:
        return {}
    lock(conn)
    index = identity.StoryIndex(candidates(conn, source_id, mine, now, titles))
    stories = {item.id: story for item in mine if (story := index.find(item)) is not None}
    assign(conn, stories)
    return stories
