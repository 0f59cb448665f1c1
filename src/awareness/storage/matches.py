"""Matches as librarians review them, and whether one has gone out (shell: SQL only).

Every function takes a connection inside a transaction from ``storage.db`` and returns core
values (``awareness.review``), never rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, select, update

from awareness.review import DriverLinkView, MatchView
from awareness.storage.models import DeliveryItem, DriverRecordRow, Item, Match, MatchDriver, Source

_VIEWS = (
    select(Match.id, Match.topic_slug, Match.status, Match.score, Match.hits,
           Item.id.label("item_id"), Item.title, Item.link, Item.summary_text,
           Source.publisher, Item.source_id, Item.published_at, Item.first_seen_at)
    .join(Item, Item.id == Match.item_id)
    .join(Source, Source.id == Item.source_id))
_VIEW = _VIEWS.where(Match.id == bindparam("match_id"))
_NEWEST = (Match.created_at.desc(), Match.id.desc())
_DRIVER_LINKS = (
    select(MatchDriver.match_id, DriverRecordRow.slug, DriverRecordRow.title,
           DriverRecordRow.impact, MatchDriver.kind, MatchDriver.score, MatchDriver.reason)
    .join(DriverRecordRow, DriverRecordRow.id == MatchDriver.driver_id)
    .where(MatchDriver.match_id.in_(bindparam("match_ids", expanding=True)))
    .order_by(MatchDriver.score.desc(), MatchDriver.id))
_STATUS = select(Match.status).where(Match.id == bindparam("match_id"))
_SET_STATUS = update(Match).where(Match.id == bindparam("match_id"))
# A match is in the outbox once a digest holding it was written; that digest is sent, or
# retried until it is, so from then on the match counts as sent and must not change.
_SENT = select(DeliveryItem.id).where(DeliveryItem.match_id == bindparam("match_id")).limit(1)


def matches_for_review(conn: Connection, *, status: str | None = None,
                       topic: str | None = None, limit: int = 200) -> list[MatchView]:
    """The newest ``limit`` matches (of ``status`` and ``topic``, when given), newest first,
    each with its item and linked driver records."""
    query: Select[Any] = _VIEWS
    if status:
        query = query.where(Match.status == status)
    if topic:
        query = query.where(Match.topic_slug == topic)
    return _with_drivers(conn, list(conn.execute(query.order_by(*_NEWEST).limit(limit))))


def match_view(conn: Connection, match_id: int) -> MatchView | None:
    """One match with its item and linked driver records, if it exists."""
    return next(iter(_with_drivers(conn, list(conn.execute(_VIEW, {"match_id": match_id})))),
                None)


def _with_drivers(conn: Connection, rows: Sequence[Row[Any]]) -> list[MatchView]:
    links: dict[int, list[DriverLinkView]] = {row.id: [] for row in rows}
    if links:
        for link in conn.execute(_DRIVER_LINKS, {"match_ids": list(links)}):
            links[link.match_id].append(DriverLinkView(
                link.slug, link.title, link.impact, link.kind, link.score, link.reason))
    return [_view(row, links[row.id]) for row in rows]


def _view(row: Row[Any], drivers: list[DriverLinkView]) -> MatchView:
    return MatchView(
        id=row.id, topic_slug=row.topic_slug, status=row.status, score=row.score,
        hits=list(row.hits or []), item_id=row.item_id, title=row.title, link=row.link,
        summary=row.summary_text, publisher=row.publisher, source_id=row.source_id,
        published_at=row.published_at, first_seen_at=row.first_seen_at, drivers=drivers)


def match_status(conn: Connection, match_id: int) -> str | None:
    """The match's status (pending, approved, rejected or auto); None when there is no such
    match."""
    return conn.scalar(_STATUS, {"match_id": match_id})


def set_status(conn: Connection, match_id: int, status: str) -> None:
    """Record a librarian's decision on the match (approved or rejected)."""
    conn.execute(_SET_STATUS, {"match_id": match_id, "status": status})


def was_sent(conn: Connection, match_id: int) -> bool:
    """Has the match gone into a digest? (Its digest is in the outbox: sent, or being sent.)"""
    return conn.scalar(_SENT, {"match_id": match_id}) is not None
