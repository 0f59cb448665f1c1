"""The items table and its tombstones: what a source has stored, storing a fetch's new items
once, edits in place, listing and deleting.

The hot part of a poll, so it stays out of the ORM: column reads, one batched
``INSERT … ON CONFLICT DO NOTHING`` per fetch and targeted ``UPDATE``s (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    FromClause,
    Integer,
    Subquery,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from awareness.errors import AwarenessError, NotFound
from awareness.matching import ArchivedItem, Candidate, IndexedItem
from awareness.model import ItemText, StoredItem
from awareness.sources import identity
from awareness.sources.decide import ItemEdit, NewItem, StoredEntry, tombstone_keys
from awareness.storage import matches
from awareness.storage.models import DeliveryItem, Item, ItemTombstone, ItemWord, Source
from awareness.topics.presearch import WordLookup
from awareness.topics.text import ItemWords

_STORED = select(Item.id, Item.key, Item.link, Item.title, Item.summary_text, Item.story_id,
                 Item.published_at, Item.first_seen_at, Item.doi, Item.summary_html,
                 Item.baseline).where(Item.source_id == bindparam("source_id"))
_TOMBSTONES = select(ItemTombstone.key).where(ItemTombstone.source_id == bindparam("source_id"))
# The columns a new item's row takes from NewItem, in insert order.
_NEW_COLUMNS = ("key", "guid", "title", "link", "summary_html", "summary_text", "categories",
                "published_at", "doi", "link_key", "title_key", "updated_at")
_SHARED_COLUMNS = ("source_id", "first_seen_at", "baseline", "story_id")
# The item's normalised words (topics.text.ItemWords.columns), NULL when not given.
_WORD_COLUMNS = ("title_words", "summary_words", "category_words")
_ALL_COLUMNS = (*_NEW_COLUMNS, *_SHARED_COLUMNS, *_WORD_COLUMNS)
_CATEGORIES = _ALL_COLUMNS.index("categories")
_new_values = attrgetter(*_NEW_COLUMNS)
_NO_WORDS = (None, None, None)
FIELD_CODES = {"title": "t", "summary": "s", "category": "c"}


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
               baseline: bool, words: Mapping[str, ItemWords]) -> dict[str, int]:
    """Insert ``items`` with their normalised ``words`` (by key), skipping keys already stored
    (a concurrent poll of the same source may have stored some first: ON CONFLICT keeps one
    copy, RELIABILITY D9). The ids of the rows this call inserted, by key: only those are
    new, and only their words are indexed."""
    if not items:
        return {}
    rows = _rows(source_id, items, now, baseline, words)
    sqlite = conn.dialect.name == "sqlite"
    ids = _insert_sqlite(conn, rows) if sqlite else _insert_core(conn, rows)
    if not sqlite:  # SQLite's triggers index the word columns (migration 0019)
        _index_words(conn, [(item_id, field, word) for key, item_id in ids.items()
                            if key in words for field, word in words[key].field_words()])
    return ids


def _rows(source_id: str, items: Sequence[NewItem], now: datetime, baseline: bool,
          words: Mapping[str, ItemWords] | None = None) -> list[tuple[Any, ...]]:
    """Each item's values in the order of ``_ALL_COLUMNS``."""
    shared = (source_id, now, baseline, None)
    words = words or {}
    return [(*_new_values(item), *shared,
             *(words[item.key].columns() if item.key in words else _NO_WORDS))
            for item in items]


def _index_words(conn: Connection, rows: list[tuple[int, str, str]]) -> None:
    """Insert (item id, field, word) rows into ``item_words`` (PostgreSQL)."""
    if not rows:
        return
    conn.execute(insert(ItemWord), [{"word": word, "item_id": item_id,
                                     "field": FIELD_CODES[field]}
                                    for item_id, field, word in rows])


def _insert_core(conn: Connection, rows: list[tuple[Any, ...]]) -> dict[str, int]:
    """One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (batched by SQLAlchemy)."""
    make = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = make(Item).on_conflict_do_nothing().returning(Item.id, Item.key)
    values = [_json_ready(dict(zip(_ALL_COLUMNS, row, strict=True))) for row in rows]
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
    names = _ALL_COLUMNS
    processors = _bind_processors(conn.dialect, names)
    # Each distinct value converted once: the fetch time and the baseline flag are the same
    # in every row, categories repeat, and a bind processor costs a microsecond or two.
    converting: list[tuple[int, Any, dict[Any, Any]]] = [
        (at, process, {}) for at, process in enumerate(processors) if process is not None]
    values = []
    for row in rows:
        converted = list(row)
        for at, process, seen in converting:
            value = row[at]
            try:
                converted[at] = seen[value]
            except KeyError:
                converted[at] = seen[value] = process(
                    list(value) if at == _CATEGORIES else value)
        values.append(converted)
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
    """Apply edits to stored items (changed columns only). An edit that carries a field's
    stored words (``title_words``, ``summary_words``: topics.text.retokenised) replaces that
    field's rows in ``item_words`` too, for an item whose words are stored (one without
    stays without, and is read as text)."""
    for edit in edits:
        changes = {k: v for k, v in edit.changes.items() if k not in _WORD_COLUMNS}
        words = {k: v for k, v in edit.changes.items() if k in _WORD_COLUMNS}
        conn.execute(update(Item).where(Item.id == edit.item_id).values(**changes))
        if words and conn.execute(update(Item).where(
                Item.id == edit.item_id, Item.title_words.is_not(None)).values(**words)
                ).rowcount:
            _replace_words(conn, edit.item_id, words)


def _replace_words(conn: Connection, item_id: int, columns: Mapping[str, str]) -> None:
    if conn.dialect.name == "sqlite":
        return  # the update trigger of item_word_index did it (migration 0019)
    for column, field in (("title_words", "title"), ("summary_words", "summary")):
        if column in columns:
            conn.execute(delete(ItemWord).where(ItemWord.item_id == item_id,
                                                ItemWord.field == FIELD_CODES[field]))
            _index_words(conn, [(item_id, field, word)
                                for word in dict.fromkeys(columns[column].split())])


# "Newest first", wherever stored items are listed (the CLI, the API and the items page):
# by publication date, the first-seen time standing in for an item its feed left undated, then
# the latest to arrive. A whole-archive first fetch or a late-found report then sits among
# the items of its own date, not on top. Future dates were clamped when parsed (P16). No
# index serves the expression: the items page counts every row its filters keep anyway, a
# scan that costs more than the sort (200,000 items sort in about 40 ms on SQLite).
PUBLISHED_OR_SEEN = func.coalesce(Item.published_at, Item.first_seen_at)
NEWEST_FIRST = (PUBLISHED_OR_SEEN.desc(), Item.id.desc())


def newest(conn: Connection, *, source: str | None = None, limit: int | None = 50,
           offset: int = 0) -> list[StoredItem]:
    """Newest items first (``NEWEST_FIRST``: by publication date, else first-seen time),
    from the ``offset``-th; at most ``limit`` (None: all)."""
    query = select(Item.id, Item.source_id, Item.key, Item.title, Item.link, Item.summary_text,
                   Item.categories, Item.published_at, Item.first_seen_at, Item.baseline,
                   Item.story_id, Item.doi).order_by(*NEWEST_FIRST).limit(limit).offset(offset)
    if source:
        query = query.where(Item.source_id == source)
    return [StoredItem(row.id, row.source_id, row.key, row.title, row.link, row.summary_text,
                       tuple(row.categories or ()), row.published_at, row.first_seen_at,
                       bool(row.baseline), row.story_id or row.id, row.doi)
            for row in conn.execute(query)]


_ARCHIVED = (Item.id, Item.source_id, Item.title, Item.link, Item.summary_text, Item.categories,
             Item.published_at, Item.baseline, Source.publisher)


def since(conn: Connection, first_seen: datetime, *,
          sources: Sequence[str] = ()) -> Iterator[ArchivedItem]:
    """Items first seen at or after ``first_seen`` (of ``sources`` when given), oldest first,
    read in batches."""
    query = (select(*_ARCHIVED).join(Source, Source.id == Item.source_id)
             .where(Item.first_seen_at >= first_seen).order_by(Item.id))
    if sources:
        query = query.where(Item.source_id.in_(sources))
    for row in conn.execution_options(yield_per=500).execute(query):
        yield _archived(row)


def _archived(row: Any) -> ArchivedItem:
    # The same fields polling matches against, so a dry run predicts live matching.
    text = ItemText(title=row.title, summary=row.summary_text,
                    categories=tuple(row.categories or ()),
                    source=f"{row.publisher} {row.source_id}")
    return ArchivedItem(row.id, bool(row.baseline), Candidate(
        text, source_id=row.source_id, publisher=row.publisher, link=row.link,
        published=row.published_at))


def counts_since(conn: Connection, first_seen: datetime, *,
                 sources: Sequence[str] = ()) -> dict[str, int]:
    """How many items each source first saw at or after ``first_seen``."""
    query = (select(Item.source_id, func.count()).where(Item.first_seen_at >= first_seen)
             .group_by(Item.source_id))
    if sources:
        query = query.where(Item.source_id.in_(sources))
    return {source_id: count for source_id, count in conn.execute(query)}


def words_since(conn: Connection, first_seen: datetime, *, sources: Sequence[str] = (),
                lookup: WordLookup | None,
                whole_sources: Collection[str] = ()) -> Iterator[IndexedItem]:
    """Items first seen at or after ``first_seen`` (of ``sources`` when given), oldest first,
    each with its stored words (None if they are not stored), and nothing of its text. With a
    ``lookup``, only the items holding one of its words, those of ``whole_sources`` and those
    without stored words: read through ``item_words``, so the cost follows the candidates,
    not the archive; without one, every item."""
    if lookup is None:
        rows: FromClause = Item.__table__
    else:
        found = _holding(lookup, whole_sources, sqlite=conn.dialect.name == "sqlite")
        rows = found.join(Item, Item.id == found.c.id)
    query = (select(Item.id, Item.source_id, Item.published_at, *_WORDS).select_from(rows)
             .where(Item.first_seen_at >= first_seen).order_by(Item.id))
    if sources:
        query = query.where(Item.source_id.in_(sources))
    for item_id, source_id, published, title, summary, categories in (
            conn.execution_options(yield_per=500).execute(query)):
        words = None if title is None else ItemWords.from_columns(title, summary or "",
                                                                   categories or "")
        yield IndexedItem(item_id, source_id, published, words)


def archived(conn: Connection, ids: Sequence[int]) -> dict[int, ArchivedItem]:
    """The items with these ids, as ``since`` reads them, by id (read 500 ids at a time)."""
    found: dict[int, ArchivedItem] = {}
    query = select(*_ARCHIVED).join(Source, Source.id == Item.source_id)
    for start in range(0, len(ids), 500):
        for row in conn.execute(query.where(Item.id.in_(ids[start:start + 500]))):
            found[row.id] = _archived(row)
    return found


_WORDS = (Item.title_words, Item.summary_words, Item.category_words)


def _holding(lookup: WordLookup, whole_sources: Collection[str], *,
             sqlite: bool) -> Subquery:
    """The ids of the items holding a word of ``lookup``, of ``whole_sources``, or without
    stored words (the partial index ``ix_items_unindexed``)."""
    parts: list[Any] = [select(Item.id).where(Item.title_words.is_(None))]
    if sqlite and (lookup.exact or lookup.prefixes):
        parts.append(text("SELECT rowid AS id FROM item_word_index "
                          "WHERE item_word_index MATCH :words")
                     .bindparams(words=_full_text_query(lookup)).columns(id=Integer))
    elif lookup.exact or lookup.prefixes:
        words: list[ColumnElement[bool]] = [ItemWord.word.in_(sorted(lookup.exact))] \
            if lookup.exact else []
        words += [_prefixed(prefix) for prefix in sorted(lookup.prefixes)]
        parts.append(select(ItemWord.item_id.label("id")).where(or_(*words)))
    if whole_sources:
        parts.append(select(Item.id).where(Item.source_id.in_(sorted(whole_sources))))
    return union(*parts).subquery()


def _full_text_query(lookup: WordLookup) -> str:
    """``lookup`` as an FTS5 query: each word a string, each prefix a string and ``*``
    (words are runs of letters and digits, so none holds a quote)."""
    return " OR ".join([*(f'"{word}"' for word in sorted(lookup.exact)),
                        *(f'"{prefix}"*' for prefix in sorted(lookup.prefixes))])


def _prefixed(prefix: str) -> ColumnElement[bool]:
    """``word`` starts with ``prefix``, as a range of the index (byte order: models.WORD)."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return ItemWord.word >= prefix
    return and_(ItemWord.word >= prefix, ItemWord.word < prefix[:-1] + chr(last + 1))


def delete_item(conn: Connection, item_id: int, *, now: datetime) -> tuple[str, str]:
    """Delete an item and its matches, leaving tombstones so the feed cannot bring it back
    (RELIABILITY D7); its source and title. An item already sent in a digest stays: the
    delivery record needs it."""
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
    return row.source_id, row.title

