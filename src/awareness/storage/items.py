"""The items table and its tombstones: what a source has stored, storing a fetch's new items
once, edits in place, listing and deleting.

The hot part of a poll, so it stays out of the ORM: column reads, one batched
``INSERT … ON CONFLICT DO NOTHING`` per fetch and targeted ``UPDATE``s (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Dialect, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from awareness.errors import AwarenessError, NotFound
from awareness.matching import ArchivedItem, Candidate
from awareness.model import ItemText, StoredItem
from awareness.sources import identity
from awareness.sources.decide import ItemEdit, NewItem, StoredEntry, tombstone_keys
from awareness.storage import matches
from awareness.storage.models import DeliveryItem, Item, ItemTombstone, Source

_STORED = select(Item.id, Item.key, Item.link, Item.title, Item.summary_text, Item.story_id,
                 Item.published_at, Item.first_seen_at, Item.doi, Item.summary_html,
                 Item.baseline).where(Item.source_id == bindparam("source_id"))
_TOMBSTONES = select(ItemTombstone.key).where(ItemTombstone.source_id == bindparam("source_id"))
# The columns a new item's row takes from NewItem, in insert order.
_NEW_COLUMNS = ("key", "guid", "title", "link", "summary_html", "summary_text", "categories",
                "published_at", "doi", "link_key", "title_key", "updated_at")
_SHARED_COLUMNS = ("source_id", "first_seen_at", "baseline", "story_id")
_new_values = attrgetter(*_NEW_COLUMNS)


def stored_entries(conn: Connection, source_id: str) -> list[StoredEntry]:
    """Every item the source has stored, as identity and edits need it."""
    return [StoredEntry(identity.KnownItem(
        id=row.id, key=row.key, link=row.link, title=row.title, summary_text=row.summary_text,
        story_id=row.story_id, published=row.published_at or row.first_seen_at, doi=row.doi),
        summary_html=row.summary_html, baseline=bool(row.baseline))
        for row in conn.execute(_STORED, {"source_id": source_id})]


def tombstones(conn: Connection, source_id: str) -> set[str]:
    """The identities of the source's items that a librarian deleted."""
    return set(conn.execute(_TOMBSTONES, {"source_id": source_id}).scalars())


def insert_new(conn: Connection, source_id: str, items: Sequence[NewItem], *, now: datetime,
               baseline: bool) -> dict[str, int]:
    """Insert ``items``, skipping keys already stored (a concurrent poll of the same source
    may have stored some first: ON CONFLICT keeps one copy, RELIABILITY D9). The ids of the
    rows this call inserted, by key: only those are new."""
    if not items:
        return {}
    rows = _rows(source_id, items, now, baseline)
    if conn.dialect.name == "sqlite":
        return _insert_sqlite(conn, rows)
    return _insert_core(conn, rows)


def _rows(source_id: str, items: Sequence[NewItem], now: datetime,
          baseline: bool) -> list[tuple[Any, ...]]:
    """Each item's values in the order of ``_NEW_COLUMNS`` then ``_SHARED_COLUMNS``."""
    shared = (source_id, now, baseline, None)
    return [(*_new_values(item), *shared) for item in items]


def _insert_core(conn: Connection, rows: list[tuple[Any, ...]]) -> dict[str, int]:
    """One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (batched by SQLAlchemy)."""
    make = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = make(Item).on_conflict_do_nothing().returning(Item.id, Item.key)
    names = (*_NEW_COLUMNS, *_SHARED_COLUMNS)
    values = [_json_ready(dict(zip(names, row, strict=True))) for row in rows]
    return {key: item_id for item_id, key in conn.execute(statement, values)}


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    values["categories"] = list(values["categories"])
    return values


def _insert_sqlite(conn: Connection, rows: list[tuple[Any, ...]]) -> dict[str, int]:
    """``_insert_core`` for SQLite at about half the CPU: the driver's ``executemany``, values
    converted by SQLAlchemy's own bind processors, then the new ids read back.

    Every write transaction began with ``BEGIN IMMEDIATE`` (storage.db): no other connection
    can write until it ends, so the rows with ids above the largest before the insert are
    exactly the ones it inserted. (SQLite's ``executemany`` returns no ``RETURNING`` rows.)
    """
    names = (*_NEW_COLUMNS, *_SHARED_COLUMNS)
    processors = _bind_processors(conn.dialect, names)
    values = [tuple(value if process is None else process(
        list(value) if name == "categories" else value)
        for process, name, value in zip(processors, names, row, strict=True)) for row in rows]
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        before = cursor.execute("SELECT coalesce(max(id), 0) FROM items").fetchone()[0]
        cursor.executemany(
            f"INSERT INTO items ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
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


def write_edits(conn: Connection, edits: Iterable[ItemEdit]) -> None:
    """Apply edits to stored items (changed columns only)."""
    for edit in edits:
        conn.execute(update(Item).where(Item.id == edit.item_id).values(**edit.changes))


def newest(conn: Connection, *, source: str | None = None, limit: int = 50,
           offset: int = 0) -> list[StoredItem]:
    """Newest items first (by first-seen time: what arrived most recently), from the
    ``offset``-th."""
    query = select(Item.id, Item.source_id, Item.key, Item.title, Item.link, Item.summary_text,
                   Item.categories, Item.published_at, Item.first_seen_at, Item.baseline,
                   Item.story_id, Item.doi).order_by(Item.first_seen_at.desc(),
                                                     Item.id.desc()
                                                     ).limit(limit).offset(offset)
    if source:
        query = query.where(Item.source_id == source)
    return [StoredItem(row.id, row.source_id, row.key, row.title, row.link, row.summary_text,
                       tuple(row.categories or ()), row.published_at, row.first_seen_at,
                       bool(row.baseline), row.story_id or row.id, row.doi)
            for row in conn.execute(query)]


def since(conn: Connection, first_seen: datetime, *,
          sources: Sequence[str] = ()) -> Iterator[ArchivedItem]:
    """Items first seen at or after ``first_seen`` (of ``sources`` when given), oldest first,
    read in batches."""
    query = (select(Item.id, Item.source_id, Item.title, Item.link, Item.summary_text,
                    Item.categories, Item.published_at, Item.baseline, Source.publisher)
             .join(Source, Source.id == Item.source_id)
             .where(Item.first_seen_at >= first_seen).order_by(Item.id))
    if sources:
        query = query.where(Item.source_id.in_(sources))
    for row in conn.execution_options(yield_per=500).execute(query):
        # The same fields polling matches against, so a dry run predicts live matching.
        text = ItemText(title=row.title, summary=row.summary_text,
                        categories=tuple(row.categories or ()),
                        source=f"{row.publisher} {row.source_id}")
        yield ArchivedItem(row.id, bool(row.baseline), Candidate(
            text, source_id=row.source_id, publisher=row.publisher, link=row.link,
            published=row.published_at))


def delete_item(conn: Connection, item_id: int, *, now: datetime) -> None:
    """Delete an item and its matches, leaving tombstones so the feed cannot bring it back
    (RELIABILITY D7). An item already sent in a digest stays: the delivery record needs it."""
    row = conn.execute(select(Item.source_id, Item.key, Item.link, Item.title,
                              Item.summary_text).where(Item.id == item_id)).first()
    if row is None:
        raise NotFound(f"no item {item_id}")
    if conn.scalar(select(DeliveryItem.id).where(DeliveryItem.item_id == item_id).limit(1)):
        raise AwarenessError(f"item {item_id} was already sent in a digest; reject its "
                             "matches instead of deleting it")
    matches.delete_of_item(conn, item_id)
    keys = dict.fromkeys(tombstone_keys(row.key, row.link, row.title, row.summary_text))
    conn.execute(insert(ItemTombstone), [dict(source_id=row.source_id, key=key, deleted_at=now)
                                         for key in keys])
    conn.execute(delete(Item).where(Item.id == item_id))

