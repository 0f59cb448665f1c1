"""Storing a fetch's items: new ones once, edits in place, stories across sources.

The hot part of a poll, so it stays out of the ORM: column reads, one batched
``INSERT … ON CONFLICT DO NOTHING`` per fetch and targeted ``UPDATE``s (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, Dialect, bindparam, func, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from awareness.links import normalise_link
from awareness.model import ParsedItem
from awareness.sources import identity
from awareness.storage.models import Item, ItemTombstone

# Where a new item looks for the same document from other sources (a story).
STORY_LOOKBACK = timedelta(days=30)
# Only the near-identical-title comparison reads a window of items rather than looking up
# equal values; it reads at most this many, the most recently seen (docs/item-identity.md).
FUZZY_STORY_CANDIDATES = 5_000


def upsert_items(session: Session, source_id: str, items: Iterable[ParsedItem],
                 now: datetime, baseline: bool) -> Upserted:
    """Insert items not seen before; update edited ones in place (edits never re-alert).
    Returns the new items' ids, the number of edited ones and of those whose id changed.

    An entry is "seen" when its key, normalised link or (for link-less entries) fingerprint
    is known (RELIABILITY D1-D4, D8) or a librarian deleted it (D7, tombstones).
    """
    # Columns, not ORM objects, and one batched INSERT: the ORM with a savepoint per item
    # cost about three quarters of a cold poll's CPU.
    connection = session.connection()
    stored: dict[int, Any] = {row.id: row for row in connection.execute(
        _STORED, {"source_id": source_id})}
    index = identity.SourceIndex(_known(row) for row in stored.values())
    deleted = set(connection.execute(_TOMBSTONES, {"source_id": source_id}).scalars())
    pending: dict[int, dict[str, Any]] = {}  # new entries, under provisional negative ids
    edited: dict[int, dict[str, Any]] = {}  # stored items as this fetch leaves them
    updated = rekeyed = 0
    for parsed in items:
        if deleted and deleted & set(tombstone_keys(parsed.key, parsed.link, parsed.title,
                                                    parsed.summary_text)):
            continue
        known = index.known_item(parsed.key, parsed.link, parsed.title, parsed.summary_text)
        if known is None:
            provisional = -1 - len(pending)  # a twin later in this fetch edits this entry
            pending[provisional] = _new_values(source_id, parsed, now, baseline)
            index.add(identity.KnownItem(id=provisional, key=parsed.key, link=parsed.link,
                                         title=parsed.title, summary_text=parsed.summary_text))
            continue
        if known.id < 0:
            current, in_stories = pending[known.id], not baseline
        else:
            row = stored[known.id]
            current, in_stories = edited.setdefault(known.id, _editable(row)), not row.baseline
        rekeyed += _follow_new_key(current, known, parsed, index)
        updated += _apply_edit(current, parsed, now, in_stories)
    _write_edits(session, stored, edited)
    # A concurrent poll may have stored some first: ON CONFLICT keeps one copy (D9).
    ids = _insert_new(session, list(pending.values()))
    new = [ids[values["key"]] for values in pending.values() if values["key"] in ids]
    if not baseline:
        _assign_stories(session, source_id, new, now)
    return Upserted(new, updated, rekeyed)


class Upserted(NamedTuple):
    """What storing one fetch's entries did."""

    new: list[int]
    updated: int
    rekeyed: int  # known items that came with a new id (GUID churn, a CMS migration: D2)


_KNOWN_COLUMNS = (Item.id, Item.key, Item.link, Item.title, Item.summary_text, Item.story_id,
                  Item.published_at, Item.first_seen_at, Item.doi)
_EDITABLE = ("key", "title", "summary_html", "summary_text")
_STORED = select(*_KNOWN_COLUMNS, Item.summary_html, Item.baseline).where(
    Item.source_id == bindparam("source_id"))
_TOMBSTONES = select(ItemTombstone.key).where(ItemTombstone.source_id == bindparam("source_id"))


def _new_values(source_id: str, parsed: ParsedItem, now: datetime,
                baseline: bool) -> dict[str, Any]:
    # Baseline items take no part in stories, so they carry no story digests: each digest is
    # a random insert into an index, most of the cost of storing a first poll.
    return dict(source_id=source_id, key=parsed.key, guid=parsed.guid, title=parsed.title,
                link=parsed.link, summary_html=parsed.summary_html,
                summary_text=parsed.summary_text, categories=list(parsed.categories),
                published_at=parsed.published, first_seen_at=now, updated_at=None,
                baseline=baseline, story_id=None,
                doi=identity.find_doi(parsed.link, parsed.guid, parsed.summary_html),
                link_key=None if baseline else identity.link_digest(parsed.link),
                title_key=None if baseline else identity.title_digest(parsed.title))


def _editable(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _EDITABLE}


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert ``rows``, skipping keys already stored; the inserted rows' ids by key."""
    if not rows:
        return {}
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        return _insert_sqlite(connection, rows)
    return _insert_core(connection, rows)


def _insert_core(connection: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (batched by SQLAlchemy)."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(Item).on_conflict_do_nothing().returning(Item.id, Item.key)
    return {key: item_id for item_id, key in connection.execute(statement, rows)}


def _insert_sqlite(connection: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """``_insert_core`` for SQLite at about half the CPU: the driver's ``executemany``, values
    converted by SQLAlchemy's own bind processors, then the new ids read back.

    Every transaction here began with ``BEGIN IMMEDIATE`` (storage.db): no other connection
    can write until it ends, so the rows with ids above the largest before the insert are
    exactly the ones it inserted. (SQLite's ``executemany`` returns no ``RETURNING`` rows.)
    """
    columns = list(rows[0])
    processors = _bind_processors(connection.dialect, tuple(columns))
    values = [tuple(value if process is None else process(value)
                    for process, value in zip(processors, (row[c] for c in columns),
                                              strict=True))
              for row in rows]
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        before = cursor.execute("SELECT coalesce(max(id), 0) FROM items").fetchone()[0]
        cursor.executemany(
            f"INSERT INTO items ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            " ON CONFLICT DO NOTHING", values)
        found = cursor.execute("SELECT key, id FROM items WHERE id > ?", (before,)).fetchall()
    finally:
        cursor.close()
    return dict(found)


@lru_cache(maxsize=8)
def _bind_processors(dialect: Dialect, columns: tuple[str, ...]) -> list[Any]:
    table = Item.__table__
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in columns]


def _write_edits(session: Session, stored: dict[int, Any],
                 edited: dict[int, dict[str, Any]]) -> None:
    for item_id, values in edited.items():
        changes = {name: value for name, value in values.items()
                   if name not in _EDITABLE or value != getattr(stored[item_id], name)}
        if changes:
            session.execute(update(Item).where(Item.id == item_id).values(**changes))


def _known(row: Any) -> identity.KnownItem:
    return identity.KnownItem(id=row.id, key=row.key, link=row.link, title=row.title,
                              summary_text=row.summary_text, story_id=row.story_id,
                              published=row.published_at or row.first_seen_at, doi=row.doi)


def tombstone_keys(key: str, link: str | None, title: str, summary_text: str) -> list[str]:
    """Every identity of an item that a tombstone records, so no re-keying brings it back."""
    keys = [key]
    if link:
        keys.append("link:" + normalise_link(link))
    keys.append("fp:" + identity.fingerprint(title, summary_text))
    return keys


def _assign_stories(session: Session, source_id: str, new: list[int], now: datetime) -> None:
    """Join each new item to the story of the same document from another source, if any."""
    if not new:
        return
    mine = [_story_item(row) for row in session.execute(
        select(*_STORY_COLUMNS).where(Item.id.in_(new)))]
    candidates = identity.StoryIndex(_story_candidates(session, source_id, mine,
                                                       now - STORY_LOOKBACK))
    for item in mine:
        story = candidates.find(item)
        if story is not None:
            session.execute(update(Item).where(Item.id == item.id).values(story_id=story))


# What stories need of an item: no key, no summary.
_STORY_COLUMNS = (Item.id, Item.link, Item.title, Item.story_id, Item.published_at,
                  Item.first_seen_at, Item.doi)
_FUZZY_COLUMNS = (Item.id, null().label("link"), Item.title, Item.story_id, Item.published_at,
                  Item.first_seen_at, null().label("doi"))


def _story_candidates(session: Session, source_id: str, mine: list[identity.KnownItem],
                      since: datetime) -> list[identity.KnownItem]:
    """The items of other sources seen since ``since`` that may be the same document as one
    of ``mine``, most recently seen first: ``find_story`` over them gives the answer it gives
    over all such items (up to ``FUZZY_STORY_CANDIDATES`` near-identical-title candidates).

    Same normalised link, same DOI and same title key are index lookups (``link_key``,
    ``doi``, ``title_key``); near-identical titles are read from the ``first_seen_at`` index,
    only those published within ``STORY_WINDOW`` of a new item with a title long enough.
    """
    recent = (Item.source_id != source_id, Item.first_seen_at >= since,
              Item.baseline.is_(False))
    published = func.coalesce(Item.published_at, Item.first_seen_at)

    def within(items: list[identity.KnownItem]) -> Any:
        # Every item has a date here: _story_item falls back to first_seen_at.
        dates = (item.published for item in items if item.published)
        return or_(*(published.between(first, last)
                     for first, last in identity.story_windows(dates)))

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
        same.append(Item.title_key.in_({titles[item.id] for item in titled}) & within(titled))
    found: dict[int, Any] = {}
    if same:
        found.update((row.id, row) for row in session.execute(
            select(*_STORY_COLUMNS).where(*recent, or_(*same))))
    long = [item for item in mine if identity.compared_fuzzily(item.title)]
    if long:
        for row in session.execute(
                select(*_FUZZY_COLUMNS).where(
                    *recent, within(long),
                    func.length(Item.title) >= identity.MIN_FUZZY_TITLE_CHARS)
                .order_by(Item.first_seen_at.desc(), Item.id.desc())
                .limit(FUZZY_STORY_CANDIDATES)):
            found.setdefault(row.id, row)  # no link or DOI: those matched in the lookups
    ordered = sorted(found.values(), key=lambda row: (row.first_seen_at, row.id), reverse=True)
    return [_story_item(row) for row in ordered]


def _story_item(row: Any) -> identity.KnownItem:
    return identity.KnownItem(id=row.id, key="", link=row.link, title=row.title,
                              summary_text="", story_id=row.story_id,
                              published=row.published_at or row.first_seen_at, doi=row.doi)


def _follow_new_key(current: dict[str, Any], known: identity.KnownItem, parsed: ParsedItem,
                    index: identity.SourceIndex) -> int:
    """The feed changed a known entry's id (GUID churn, CMS migration): follow it (D2)."""
    if current["key"] == parsed.key or parsed.key in index.by_key:
        return 0
    index.by_key.pop(current["key"], None)
    current["key"] = parsed.key
    index.by_key[parsed.key] = replace(known, key=parsed.key)
    return 1


def _apply_edit(current: dict[str, Any], parsed: ParsedItem, now: datetime,
                in_stories: bool) -> int:
    """Apply an edit to ``current``; 1 if it changed what a reader sees. Only items that take
    part in stories (not baseline ones) keep a title digest."""
    if (current["title"], current["summary_html"]) == (parsed.title, parsed.summary_html):
        return 0
    current.update(title=parsed.title, summary_html=parsed.summary_html,
                   summary_text=parsed.summary_text, updated_at=now,
                   title_key=identity.title_digest(parsed.title) if in_stories else None)
    return 1
