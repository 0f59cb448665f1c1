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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, null, or_, select, text, update

from awareness.sources import identity
from awareness.storage.models import Item

# Where a new item looks for the same document from other sources (a story).
LOOKBACK = timedelta(days=30)
# Only the near-identical-title comparison reads a window of items rather than looking up
# equal values; it reads at most this many, the most recently seen (docs/item-identity.md).
FUZZY_CANDIDATES = 5_000
# pg_advisory_xact_lock's key for "assigning stories": any fixed 64-bit number of ours.
_LOCK_KEY = 0x61776172_73746F72  # "awarstor"

_STORY_COLUMNS = (Item.id, Item.link, Item.title, Item.story_id, Item.published_at,
                  Item.first_seen_at, Item.doi)
_FUZZY_COLUMNS = (Item.id, null().label("link"), Item.title, Item.story_id, Item.published_at,
                  Item.first_seen_at, null().label("doi"))
_ASSIGN = update(Item).where(Item.id == bindparam("item_id")).values(
    story_id=bindparam("story"))


def lock(conn: Connection) -> None:
    """Make story assignment exclusive until this transaction ends (see the module)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def candidates(conn: Connection, source_id: str, mine: list[identity.KnownItem],
               now: datetime) -> list[identity.KnownItem]:
    """The items of other sources seen in the last ``LOOKBACK`` that may be the same document
    as one of ``mine``, most recently seen first: ``find_story`` over them gives the answer it
    gives over all such items (up to ``FUZZY_CANDIDATES`` near-identical-title candidates).

    Same normalised link, same DOI and same title key are index lookups (``link_key``,
    ``doi``, ``title_key``); near-identical titles are read from the ``first_seen_at`` index,
    only those published within ``STORY_WINDOW`` of a new item with a title long enough.
    """
    recent = (Item.source_id != source_id, Item.first_seen_at >= now - LOOKBACK,
              Item.baseline.is_(False))
    found: dict[int, Any] = {}
    same = _same_document(mine)
    if same:
        found.update((row.id, row) for row in conn.execute(
            select(*_STORY_COLUMNS).where(*recent, or_(*same))))
    long = [item for item in mine if identity.compared_fuzzily(item.title)]
    if long:
        for row in conn.execute(
                select(*_FUZZY_COLUMNS).where(
                    *recent, _within(long),
                    func.length(Item.title) >= identity.MIN_FUZZY_TITLE_CHARS)
                .order_by(Item.first_seen_at.desc(), Item.id.desc())
                .limit(FUZZY_CANDIDATES)):
            found.setdefault(row.id, row)  # no link or DOI: those matched in the lookups
    ordered = sorted(found.values(), key=lambda row: (row.first_seen_at, row.id), reverse=True)
    return [identity.KnownItem(id=row.id, key="", link=row.link, title=row.title,
                               summary_text="", story_id=row.story_id,
                               published=row.published_at or row.first_seen_at, doi=row.doi)
            for row in ordered]


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
         now: datetime) -> dict[int, int]:
    """Lock, find and assign the stories of a source's ``new`` items; item id → story id."""
    mine = list(new)
    if not mine:
        return {}
    lock(conn)
    index = identity.StoryIndex(candidates(conn, source_id, mine, now))
    stories = {item.id: story for item in mine if (story := index.find(item)) is not None}
    assign(conn, stories)
    return stories
