"""Driver records, their edit history and the items linked to them (shell: SQL only).

Every function takes a connection inside a transaction from ``storage.db`` and returns core
values (``drivers.views``, ``model.DriverRecord``), never rows. The columns derived from a
record's fields (member, parsed dates) are written with the record, so that they always
follow the fields.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from awareness.drivers.records import details
from awareness.drivers.views import AttentionLink, HistoryEntry, LinkedItem, StoredDriver
from awareness.model import DriverRecord
from awareness.storage.models import (
    DriverRecordRow,
    DriverRecordVersion,
    DriverSitePage,
    Item,
    Match,
    MatchDriver,
    Source,
)
from awareness.storage.outbox import SENDABLE

_RECORD = (DriverRecordRow.kind, DriverRecordRow.slug, DriverRecordRow.title,
           DriverRecordRow.source, DriverRecordRow.link, DriverRecordRow.impact,
           DriverRecordRow.summary, DriverRecordRow.tags, DriverRecordRow.fields)
_STORED = select(DriverRecordRow.id, DriverRecordRow.status, DriverRecordRow.member,
                 DriverRecordRow.published_on, DriverRecordRow.review_due_on,
                 DriverRecordRow.gone_at, *_RECORD)
_BY_SLUG = _STORED.where(DriverRecordRow.slug == bindparam("slug"))
_BY_TITLE = _STORED.order_by(DriverRecordRow.title)
_IN_SLUG_ORDER = _STORED.order_by(DriverRecordRow.slug)
_BY_MEMBER = _STORED.order_by(DriverRecordRow.member, DriverRecordRow.title)
_OF_MEMBER = _BY_MEMBER.where(DriverRecordRow.member == bindparam("member"))
# A deleted record is kept for its history, and never linked again (issue 14).
_FOR_LINKING = (select(DriverRecordRow.id, *_RECORD)
                .where(func.coalesce(DriverRecordRow.status, "active") != "deleted")
                .order_by(DriverRecordRow.id))
_SLUGS = select(DriverRecordRow.slug)
_MEMBERS = (select(DriverRecordRow.member).distinct()
            .where(func.coalesce(DriverRecordRow.status, "active") != "deleted",
                   func.coalesce(DriverRecordRow.member, "") != ""))

_LINKED_ITEMS = (
    select(Item.title, Item.link, Match.topic_slug, MatchDriver.kind, MatchDriver.reason,
           Item.first_seen_at, Match.id, Match.status, Source.publisher, Item.published_at)
    .join(Match, Match.item_id == Item.id)
    .join(MatchDriver, MatchDriver.match_id == Match.id)
    .join(Source, Source.id == Item.source_id)
    .where(MatchDriver.driver_id == bindparam("driver_id"), Match.status != "rejected",
           MatchDriver.state != "removed")
    .order_by(Item.first_seen_at.desc(), Match.id.desc()))
# What staff and visitors may see: the items a digest could have carried under the record,
# never a match still waiting for a librarian's decision.
_SENT_ITEMS = _LINKED_ITEMS.where(Match.status.in_(SENDABLE))
_HISTORY = (
    select(DriverRecordVersion.changed_at, DriverRecordVersion.changed_by,
           DriverRecordVersion.action, DriverRecordVersion.changes)
    .where(DriverRecordVersion.driver_id == bindparam("driver_id"))
    .order_by(DriverRecordVersion.changed_at.desc(), DriverRecordVersion.id.desc()))
# When the record was last marked reviewed: its latest "reviewed" history entry. Not its
# last update, which any edit or import moves: a typo fixed took a new edition off the
# needs-attention list unread.
_LAST_REVIEWED = (select(func.max(DriverRecordVersion.changed_at))
                  .where(DriverRecordVersion.driver_id == DriverRecordRow.id,
                         DriverRecordVersion.action == "reviewed")
                  .correlate(DriverRecordRow).scalar_subquery())
_ATTENTION = (
    select(MatchDriver.driver_id, MatchDriver.kind, Item.title, Item.link)
    .join(Match, Match.id == MatchDriver.match_id)
    .join(Item, Item.id == Match.item_id)
    .join(DriverRecordRow, DriverRecordRow.id == MatchDriver.driver_id)
    .where(MatchDriver.kind.in_(bindparam("kinds", expanding=True)),
           MatchDriver.state != "removed", Match.status != "rejected",
           Match.created_at > func.coalesce(_LAST_REVIEWED, DriverRecordRow.created_at))
    .order_by(Match.created_at, Match.id))

_INSERT = insert(DriverRecordRow).returning(DriverRecordRow.id)
_UPDATE = update(DriverRecordRow).where(DriverRecordRow.id == bindparam("driver_id"))
_ADD_VERSION = insert(DriverRecordVersion)


# --- reading --------------------------------------------------------------------------------

def record_from_row(row: Row[Any]) -> DriverRecord:
    """A selected row holding the record's columns as the pure value the linker, the
    exporter and the views take."""
    return DriverRecord(kind=row.kind, slug=row.slug, title=row.title, source=row.source,
                        link=row.link, impact=row.impact, summary=row.summary,
                        tags=tuple(row.tags or ()), fields=dict(row.fields or {}))


def _stored(row: Row[Any]) -> StoredDriver:
    return StoredDriver(row.id, record_from_row(row), row.status or "active", row.member or "",
                        row.published_on, row.review_due_on, row.gone_at)


def records_for_linking(conn: Connection) -> list[tuple[int, DriverRecord]]:
    """Every record as (row id, pure value), for the linker."""
    return [(row.id, record_from_row(row)) for row in conn.execute(_FOR_LINKING)]


def driver_by_slug(conn: Connection, slug: str) -> StoredDriver | None:
    """The record named ``slug``, if there is one."""
    row = conn.execute(_BY_SLUG, {"slug": slug}).one_or_none()
    return _stored(row) if row else None


def drivers_by_title(conn: Connection) -> list[StoredDriver]:
    """Every record, by title."""
    return [_stored(row) for row in conn.execute(_BY_TITLE)]


def drivers_in_slug_order(conn: Connection) -> list[StoredDriver]:
    """Every record, by slug (the order of an export)."""
    return [_stored(row) for row in conn.execute(_IN_SLUG_ORDER)]


def drivers_by_member(conn: Connection, member: str | None = None) -> list[StoredDriver]:
    """The records of ``member`` (initials; "" for records nobody looks after; every record
    when None), by member then title."""
    if member is not None:
        return [_stored(row) for row in conn.execute(_OF_MEMBER, {"member": member})]
    return [_stored(row) for row in conn.execute(_BY_MEMBER)]


def driver_slugs(conn: Connection) -> set[str]:
    """Every slug in use."""
    return set(conn.scalars(_SLUGS))


def member_initials(conn: Connection) -> set[str]:
    """The initials of every member looking after a record that is not deleted."""
    return set(conn.scalars(_MEMBERS))


def linked_items(conn: Connection, driver_id: int, *,
                 sendable_only: bool = False) -> list[LinkedItem]:
    """The items linked to a record by matches not rejected, newest first; with
    ``sendable_only``, only by matches that go to readers (approved, or sent without review),
    as digests link them."""
    rows = conn.execute(_SENT_ITEMS if sendable_only else _LINKED_ITEMS, {"driver_id": driver_id})
    return [LinkedItem(title, link, topic, kind, reason, seen, match_id, status, publisher,
                       published)
            for (title, link, topic, kind, reason, seen, match_id, status, publisher,
                 published) in rows]


def driver_history(conn: Connection, driver_id: int) -> list[HistoryEntry]:
    """A record's edit history, newest first."""
    return [HistoryEntry(row.changed_at, row.changed_by, row.action, dict(row.changes))
            for row in conn.execute(_HISTORY, {"driver_id": driver_id})]


def links_since_review(conn: Connection, kinds: Sequence[str]) -> list[AttentionLink]:
    """Links of ``kinds`` (not removed) from matches not rejected, made after their record
    was last marked reviewed (or, never reviewed, created), oldest match first."""
    return [AttentionLink(*row) for row in conn.execute(_ATTENTION, {"kinds": list(kinds)})]


# --- writing --------------------------------------------------------------------------------

def _columns(record: DriverRecord) -> dict[str, Any]:
    about = details(record)
    return {"kind": record.kind, "title": record.title, "source": record.source,
            "link": record.link, "impact": record.impact, "summary": record.summary,
            "tags": list(record.tags), "fields": dict(record.fields), "member": about.member,
            "published_on": about.published_on, "review_due_on": about.review_due_on}


def insert_driver(conn: Connection, record: DriverRecord, *, status: str,
                  now: datetime) -> int:
    """Store a new record (``status`` "active" or "draft"); return its row id."""
    return int(conn.execute(_INSERT, {"slug": record.slug, "status": status, "created_at": now,
                                      "updated_at": now, **_columns(record)}).scalar_one())


def update_driver(conn: Connection, driver_id: int, record: DriverRecord, *, status: str,
                  now: datetime) -> None:
    """Replace a record's values (its slug stays) and mark it updated at ``now``."""
    conn.execute(_UPDATE, {"driver_id": driver_id, "status": status, "updated_at": now,
                           **_columns(record)})


def set_status(conn: Connection, driver_id: int, status: str) -> None:
    """Set a record's status (active, draft or deleted). Its text is as it was, so it is not
    marked updated."""
    conn.execute(update(DriverRecordRow).where(DriverRecordRow.id == driver_id)
                 .values(status=status))


def refresh_derived(conn: Connection, stored: StoredDriver) -> bool:
    """Bring the columns derived from the record's fields up to date (they may predate a
    parser fix or a schema upgrade) without counting it as an update; whether they changed."""
    about = details(stored.record)
    derived = {"member": about.member, "published_on": about.published_on,
               "review_due_on": about.review_due_on}
    if (stored.member, stored.published_on, stored.review_due_on) == tuple(derived.values()):
        return False
    conn.execute(_UPDATE, {"driver_id": stored.id, **derived})
    return True


def add_version(conn: Connection, driver_id: int, *, now: datetime, changed_by: str,
                action: str, changes: dict[str, list[object]]) -> None:
    """One entry in a record's edit history: who changed what, as {field: [old, new]}."""
    conn.execute(_ADD_VERSION, {"driver_id": driver_id, "changed_at": now,
                                "changed_by": changed_by, "action": action, "changes": changes})


# --- records on a MAP-toolkit site (a ``drivers`` source) -------------------------------------

_BY_SLUGS = _STORED.where(DriverRecordRow.slug.in_(bindparam("slugs", expanding=True)))
_TITLES = (select(DriverRecordRow.slug, DriverRecordRow.title)
           .where(DriverRecordRow.slug.in_(bindparam("slugs", expanding=True))))
_LATEST_LISTING = (select(func.max(DriverSitePage.listed_at))
                   .where(DriverSitePage.source_id == bindparam("source_id"))
                   .scalar_subquery())
_OFF_LISTING = (
    _STORED.add_columns(DriverSitePage.url)
    .join(DriverSitePage, DriverSitePage.driver_id == DriverRecordRow.id)
    .where(DriverSitePage.source_id == bindparam("source_id"),
           DriverSitePage.listed_at < _LATEST_LISTING,
           or_(DriverSitePage.checked_at.is_(None),
               DriverSitePage.checked_at < bindparam("checked_before")),
           func.coalesce(DriverRecordRow.status, "active") != "deleted")
    # Never asked for first, then the longest ago: every record gets its turn.
    .order_by(DriverSitePage.checked_at.is_not(None), DriverSitePage.checked_at,
              DriverRecordRow.id)
    .limit(bindparam("limit")))


def drivers_by_slugs(conn: Connection, slugs: Sequence[str]) -> list[StoredDriver]:
    """The records named by ``slugs`` that exist."""
    return [_stored(row) for row in conn.execute(_BY_SLUGS, {"slugs": list(slugs)})]


def titles_by_slug(conn: Connection, slugs: Collection[str]) -> dict[str, str]:
    """The title of each record named by ``slugs`` that exists (deleted ones too: a message
    about a record outlives it)."""
    if not slugs:
        return {}
    return {row.slug: row.title for row in conn.execute(_TITLES, {"slugs": sorted(slugs)})}


def list_on_site(conn: Connection, source_id: str, pages: dict[int, str],
                 now: datetime) -> None:
    """Record that ``source_id``'s listing holds the records ``pages`` (row id → their own
    page's address) at ``now``; a record listed by another source before moves to this one."""
    insert_ = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for driver_id, url in sorted(pages.items()):
        values = {"source_id": source_id, "url": url, "listed_at": now, "checked_at": None}
        conn.execute(insert_(DriverSitePage).values(driver_id=driver_id, **values)
                     .on_conflict_do_update(index_elements=[DriverSitePage.driver_id],
                                            set_=values))


def off_listing(conn: Connection, source_id: str, *, checked_before: datetime,
                limit: int) -> list[tuple[StoredDriver, str]]:
    """At most ``limit`` records ``source_id`` listed before but not in its latest listing,
    whose page was not asked for since ``checked_before``, each with its page's address."""
    rows = conn.execute(_OFF_LISTING, {"source_id": source_id,
                                       "checked_before": checked_before, "limit": limit})
    return [(_stored(row), row.url) for row in rows]


def mark_checked(conn: Connection, driver_ids: Sequence[int], now: datetime) -> None:
    """The pages of ``driver_ids`` were asked for at ``now``."""
    if driver_ids:
        conn.execute(update(DriverSitePage).where(DriverSitePage.driver_id.in_(driver_ids))
                     .values(checked_at=now))


def set_gone(conn: Connection, driver_id: int, gone_at: datetime | None) -> None:
    """Flag a record as gone from the site since ``gone_at``, or clear the flag (None). Not
    an update of the record: its text did not change."""
    conn.execute(update(DriverRecordRow).where(DriverRecordRow.id == driver_id)
                 .values(gone_at=gone_at))
