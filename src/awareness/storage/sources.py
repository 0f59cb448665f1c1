"""The sources table: definitions from sources.toml, and each source's fetch state.

A poll reads every polled source's state in one statement per run and writes each source's
changes with one ``UPDATE`` (statements built once: docs/performance.md measured the ORM's
handling of this one row costing more than SQLite's work on a fetch's items).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from awareness.links import normalise_link
from awareness.sources.decide import SourceChanges, SourceState, StoredDefinition
from awareness.sources.health import SourceRecord
from awareness.storage.models import Item, Source
from awareness.subscriptions import SourceDef

_STATE_COLUMNS = (Source.id, Source.publisher, Source.kind, Source.url, Source.interval_minutes,
                  Source.fetch_url, Source.etag, Source.last_modified, Source.body_hash,
                  Source.baseline_done, Source.state, Source.error_count, Source.redirect_target,
                  Source.redirect_count, Source.duplicate_of, Source.child_validators)
_STATES = select(*_STATE_COLUMNS).where(Source.id.in_(bindparam("ids", expanding=True)))
_UPDATE = update(Source).where(Source.id == bindparam("source_id"))
_RECENT = (select(Item.source_id, func.count()).where(
    Item.source_id.in_(bindparam("ids", expanding=True)),
    Item.first_seen_at >= bindparam("since"), Item.baseline.is_(False))
    .group_by(Item.source_id))
_SETTLED = (select(Item.source_id).where(
    Item.source_id.in_(bindparam("ids", expanding=True)),
    Item.first_seen_at < bindparam("since"), Item.baseline.is_(True))
    .group_by(Item.source_id))
_DUE = select(Source.id).where(
    Source.enabled.is_(True), Source.state == "active",
    or_(Source.next_check_at.is_(None), Source.next_check_at <= bindparam("now"))
).order_by(Source.next_check_at, Source.id)


def states(conn: Connection, ids: Iterable[str],
           since: datetime | None = None) -> dict[str, SourceState]:
    """The state of each of the sources ``ids`` that exists, by id; with ``since``, each also
    counts its new (not baseline) items first seen since then, for its polling cadence."""
    ids = list(ids)
    found = {row.id: _state(row) for row in conn.execute(_STATES, {"ids": ids})}
    if since is None:
        return found
    counts = dict(conn.execute(_RECENT, {"ids": ids, "since": since}).all())
    # A source younger than the window has no cadence yet: it keeps its interval.
    settled = set(conn.execute(_SETTLED, {"ids": ids, "since": since}).scalars())
    return {key: replace(state, recent_items=int(counts.get(key, 0)))
            if key in settled else state for key, state in found.items()}


def _state(row: Row[*tuple[Any, ...]]) -> SourceState:
    return SourceState(
        id=row.id, publisher=row.publisher, kind=row.kind, url=row.url,
        interval_minutes=row.interval_minutes, fetch_url=row.fetch_url, etag=row.etag,
        last_modified=row.last_modified, body_hash=row.body_hash,
        baseline_done=bool(row.baseline_done), state=row.state,
        error_count=row.error_count or 0, redirect_target=row.redirect_target,
        redirect_count=row.redirect_count or 0, duplicate_of=row.duplicate_of,
        child_validators={url: (pair[0], pair[1])
                          for url, pair in (row.child_validators or {}).items()})


def write(conn: Connection, source_id: str, changes: SourceChanges) -> None:
    """Write a poll's changes to one source."""
    if changes:
        conn.execute(_UPDATE, {**changes, "source_id": source_id})


def due(conn: Connection, now: datetime) -> list[str]:
    """Ids of the enabled, active sources whose next check has come, most overdue first."""
    return list(conn.execute(_DUE, {"now": now}).scalars())


def polled_count(conn: Connection) -> int:
    """How many sources have been polled at least once (bench/workers.py waits on it)."""
    return int(conn.execute(select(func.count()).select_from(Source)
                            .where(Source.last_attempt_at.is_not(None))).scalar_one())


def addresses(conn: Connection, *, besides: str) -> dict[str, str]:
    """Every other source's normalised address → its id (to recognise a redirect onto one)."""
    rows = conn.execute(select(Source.id, Source.fetch_url, Source.url)
                        .where(Source.id != besides))
    return {normalise_link(fetch_url or url): other for other, fetch_url, url in rows}


def publishers(conn: Connection) -> dict[str, str]:
    """Each source's publisher, by source id."""
    return {row.id: row.publisher for row in conn.execute(select(Source.id, Source.publisher))}


def definitions(conn: Connection) -> dict[str, StoredDefinition]:
    """The stored definition of every source, by id."""
    rows = conn.execute(select(Source.id, Source.url, Source.name, Source.publisher,
                               Source.kind, Source.interval_minutes, Source.enabled))
    return {row.id: StoredDefinition(row.id, row.url, row.name, row.publisher, row.kind,
                                     row.interval_minutes, bool(row.enabled)) for row in rows}


def save_definitions(conn: Connection, changed: Iterable[SourceDef],
                     moved: Iterable[str], disabled: Iterable[str]) -> None:
    """Store new or changed definitions; forget the fetch state of ``moved`` sources (a new
    URL is a new feed for conditional GET); disable ``disabled`` ones (never deleted: their
    items stay).

    Safe when several processes sync the same file at once (issue 15): each row is an
    ``INSERT … ON CONFLICT DO UPDATE``, so a source another process has just added is updated
    to the same values instead of failing on the primary key, and rows are written in id
    order, so two writers wait on each other's rows instead of deadlocking."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    rows = [dict(id=d.id, name=d.name, publisher=d.publisher, url=d.url, kind=d.kind,
                 interval_minutes=d.interval_minutes, enabled=d.enabled, baseline_done=False,
                 error_count=0, state="active", redirect_count=0)
            for d in sorted(changed, key=lambda d: d.id)]
    if rows:  # one statement for them all (a new sources.toml of 1,000 is 1,000 rows)
        statement = insert(Source)
        conn.execute(statement.on_conflict_do_update(
            index_elements=[Source.id], set_={name: statement.excluded[name] for name in (
                "name", "publisher", "url", "kind", "interval_minutes", "enabled")}), rows)
    moved = sorted(moved)
    if moved:
        conn.execute(update(Source).where(Source.id.in_(moved)).values(
            etag=None, last_modified=None, body_hash=None, fetch_url=None,
            child_validators=None,
            redirect_target=None, duplicate_of=None, redirect_count=0))
    disabled = sorted(disabled)
    if disabled:
        conn.execute(update(Source).where(Source.id.in_(disabled)).values(enabled=False))


def records(conn: Connection, *, recent_since: datetime) -> list[SourceRecord]:
    """Every source by id, with its item counts (``recent_items`` since ``recent_since``)."""
    counts = (select(Item.source_id, func.count(Item.id).label("stored"),
                     func.count(Item.id).filter(Item.first_seen_at >= recent_since,
                                                Item.baseline.is_(False)).label("recent"),
                     func.max(Item.first_seen_at).label("newest"))
              .group_by(Item.source_id).subquery())
    rows = conn.execute(
        select(*_RECORD_COLUMNS, counts.c.stored, counts.c.recent, counts.c.newest)
        .outerjoin(counts, counts.c.source_id == Source.id).order_by(Source.id))
    return [SourceRecord(
        id=r.id, name=r.name, publisher=r.publisher, url=r.url, kind=r.kind,
        fetch_url=r.fetch_url, duplicate_of=r.duplicate_of, enabled=bool(r.enabled),
        state=r.state, last_success_at=r.last_success_at, last_attempt_at=r.last_attempt_at,
        next_check_at=r.next_check_at, error_count=r.error_count or 0, last_error=r.last_error,
        warnings=r.warnings, items=r.stored or 0, recent_items=r.recent or 0,
        newest_item_at=r.newest) for r in rows]


_RECORD_COLUMNS = (Source.id, Source.name, Source.publisher, Source.url, Source.kind,
                   Source.fetch_url, Source.duplicate_of, Source.enabled, Source.state,
                   Source.last_success_at, Source.last_attempt_at, Source.next_check_at,
                   Source.error_count, Source.last_error, Source.warnings)
