"""The matches table: matches as librarians review them, whether one has gone out, and
storing the matches a poll or a re-match decided, with their driver links (shell: SQL only).

Every function takes a connection inside a transaction from ``storage.db`` and returns core
values (``awareness.review``, ``awareness.matching``), never rows. A poll decides its matches
outside any transaction (matching is pure and can be slow); ``insert_matches`` writes them,
with their driver links, in one batch of each inside the poll's write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Exists,
    Row,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from awareness.matching import StoredMatch
from awareness.model import NewMatch
from awareness.review import DriverLinkView, MatchView
from awareness.storage.models import (
    DeliveryItem,
    DriverRecordRow,
    Item,
    Match,
    MatchDriver,
    Review,
    Source,
)
from awareness.topics.explain import hits_as_dicts

VIEWS = (
    select(Match.id, Match.topic_slug, Match.status, Match.score, Match.hits,
           Item.id.label("item_id"), Item.title, Item.link, Item.summary_text,
           Source.publisher, Item.source_id, Item.published_at, Item.first_seen_at,
           Match.reader_note)
    .join(Item, Item.id == Match.item_id)
    .join(Source, Source.id == Item.source_id))
_VIEW = VIEWS.where(Match.id == bindparam("match_id"))
_NEWEST = (Match.created_at.desc(), Match.id.desc())
_DRIVER_LINKS = (
    select(MatchDriver.match_id, DriverRecordRow.slug, DriverRecordRow.title,
           DriverRecordRow.impact, MatchDriver.kind, MatchDriver.score, MatchDriver.reason)
    .join(DriverRecordRow, DriverRecordRow.id == MatchDriver.driver_id)
    .where(MatchDriver.match_id.in_(bindparam("match_ids", expanding=True)),
           MatchDriver.state != "removed",
           func.coalesce(DriverRecordRow.status, "active") != "deleted")
    .order_by(MatchDriver.score.desc(), MatchDriver.id))
_DELETED_RECORDS = select(DriverRecordRow.id).where(DriverRecordRow.status == "deleted")
# Locked for the rest of the transaction on PostgreSQL, so two decisions on one match (or a
# decision and a re-match) take turns; SQLite's write transaction already excludes the others.
_STATUS = select(Match.status).where(Match.id == bindparam("match_id")).with_for_update()
_UPDATE = update(Match).where(Match.id == bindparam("match_id"))
_READER_NOTE = select(Match.reader_note).where(Match.id == bindparam("match_id"))
# A match is in the outbox once a digest holding it was written; that digest is sent, or
# retried until it is, so from then on the match counts as sent and must not change.
_SENT = select(DeliveryItem.id).where(DeliveryItem.match_id == bindparam("match_id")).limit(1)


def matches_for_review(conn: Connection, *, status: str | None = None,
                       topic: str | None = None, limit: int = 200,
                       offset: int = 0) -> list[MatchView]:
    """The newest ``limit`` matches (of ``status`` and ``topic``, when given) from the
    ``offset``-th, newest first, each with its item and linked driver records."""
    query: Select[Any] = VIEWS
    if status:
        query = query.where(Match.status == status)
    if topic:
        query = query.where(Match.topic_slug == topic)
    return with_drivers(conn, list(conn.execute(
        query.order_by(*_NEWEST).limit(limit).offset(offset))))


def match_view(conn: Connection, match_id: int) -> MatchView | None:
    """One match with its item and linked driver records, if it exists."""
    return next(iter(with_drivers(conn, list(conn.execute(_VIEW, {"match_id": match_id})))),
                None)


def matches_of_item(conn: Connection, item_id: int) -> list[MatchView]:
    """Every match of one item (one a topic), with linked driver records, by topic."""
    rows = conn.execute(VIEWS.where(Match.item_id == item_id).order_by(Match.topic_slug))
    return with_drivers(conn, list(rows))


def with_drivers(conn: Connection, rows: Sequence[Row[Any]]) -> list[MatchView]:
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
        published_at=row.published_at, first_seen_at=row.first_seen_at, drivers=drivers,
        reader_note=row.reader_note or "")


def match_status(conn: Connection, match_id: int) -> str | None:
    """The match's status (pending, approved, rejected or auto), locked until the transaction
    ends; None when there is no such match. Call it in a write transaction."""
    return conn.scalar(_STATUS, {"match_id": match_id})


def set_status(conn: Connection, match_id: int, status: str) -> None:
    """Record a librarian's decision on the match (approved or rejected)."""
    conn.execute(_UPDATE, {"match_id": match_id, "status": status})


def reader_note(conn: Connection, match_id: int) -> str:
    """The match's note for readers ("" when it has none or there is no such match)."""
    return conn.scalar(_READER_NOTE, {"match_id": match_id}) or ""


def set_reader_note(conn: Connection, match_id: int, note: str) -> None:
    """Set the note for readers: the one librarian text a digest carries (issue 12). The
    review-log note is the review row's (``storage.reviews``) and never leaves the service."""
    conn.execute(_UPDATE, {"match_id": match_id, "reader_note": note})


def was_sent(conn: Connection, match_id: int) -> bool:
    """Has the match gone into a digest? (Its digest is in the outbox: sent, or being sent.)"""
    return conn.scalar(_SENT, {"match_id": match_id}) is not None


def sent_of(conn: Connection, match_ids: Sequence[int]) -> set[int]:
    """Which of these matches have gone into a digest."""
    if not match_ids:
        return set()
    return set(conn.scalars(select(DeliveryItem.match_id).distinct()
                            .where(DeliveryItem.match_id.in_(list(match_ids)))))


def insert_matches(conn: Connection, found: Sequence[tuple[int, NewMatch]], *,
                   now: datetime) -> int:
    """Store each (item id, match) with its driver links; returns how many were stored."""
    if not found:
        return 0
    rows = [_row(item_id, m, now) for item_id, m in found]
    ids = conn.execute(insert(Match).returning(Match.id, sort_by_parameter_order=True),
                       rows).scalars().all()
    _insert_links(conn, [(match_id, m) for match_id, (_, m) in zip(ids, found, strict=True)])
    return len(ids)


def _row(item_id: int, match: NewMatch, now: datetime) -> dict[str, object]:
    return dict(item_id=item_id, topic_slug=match.topic_slug, status=match.status,
                hits=hits_as_dicts(match.hits), score=match.score, created_at=now,
                profile_version=match.profile_version)


def _insert_links(conn: Connection, stored: Sequence[tuple[int, NewMatch]]) -> None:
    """The driver links of stored matches (match id, match), in one batch."""
    slugs = {link.slug for _, m in stored for link in m.links}
    if not slugs:
        return
    driver_ids = _driver_ids(conn, slugs)
    kept = _kept_links(conn, [match_id for match_id, _ in stored])
    links = [dict(match_id=match_id, driver_id=driver_ids[link.slug], kind=link.kind,
                  score=link.score, reason=link.reason)
             for match_id, m in stored for link in m.links
             if link.slug in driver_ids and (match_id, driver_ids[link.slug]) not in kept]
    if links:
        conn.execute(insert(MatchDriver), links)


def _kept_links(conn: Connection, match_ids: list[int]) -> set[tuple[int, int]]:
    """(match id, driver id) pairs the linker must not suggest: the links each match still
    has, and every link a librarian removed from any match of the same item (issue 14: a
    removed link never comes back for that item)."""
    other = aliased(Match)
    rows = conn.execute(
        select(Match.id, MatchDriver.driver_id)
        .join(other, other.item_id == Match.item_id)
        .join(MatchDriver, MatchDriver.match_id == other.id)
        .where(Match.id.in_(match_ids),
               (MatchDriver.match_id == Match.id) | (MatchDriver.state == "removed")))
    return {(row[0], row[1]) for row in rows}


def _driver_ids(conn: Connection, slugs: set[str]) -> dict[str, int]:
    return dict(conn.execute(select(DriverRecordRow.slug, DriverRecordRow.id)
                             .where(DriverRecordRow.slug.in_(slugs))).all())


def delete_of_item(conn: Connection, item_id: int) -> None:
    """Delete every match of an item, with their driver links and reviews."""
    match_ids = select(Match.id).where(Match.item_id == item_id).scalar_subquery()
    for model in (MatchDriver, Review):
        conn.execute(delete(model).where(model.match_id.in_(match_ids)))
    conn.execute(delete(Match).where(Match.item_id == item_id))


def of_topic(conn: Connection, topic_slug: str) -> dict[int, StoredMatch]:
    """The topic's stored matches by item id, each saying whether it was sent or reviewed."""
    sent = exists().where(DeliveryItem.match_id == Match.id)
    reviewed = exists().where(Review.match_id == Match.id)
    rows = conn.execute(select(Match.id, Match.item_id, Match.status, sent.label("sent"),
                               reviewed.label("reviewed")).where(Match.topic_slug == topic_slug))
    return {row.item_id: StoredMatch(row.id, row.item_id, row.status, bool(row.sent),
                                     bool(row.reviewed)) for row in rows}


def insert_if_absent(conn: Connection, found: Sequence[tuple[int, NewMatch]], *,
                     now: datetime) -> int:
    """``insert_matches`` for matches that may exist already (a poll may have matched the
    item since it was read): those are left as they are. Returns how many were stored."""
    make = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stored = 0
    for item_id, match in found:
        match_id = conn.execute(make(Match).values(**_row(item_id, match, now))
                                .on_conflict_do_nothing().returning(Match.id)).scalar()
        if match_id is not None:
            _insert_links(conn, [(match_id, match)])
            stored += 1
    return stored


def refresh(conn: Connection, match_id: int, match: NewMatch) -> None:
    """Give an unsent match the hits, score, version and driver links of a new match."""
    conn.execute(update(Match).where(Match.id == match_id, ~_sent(match_id)).values(
        hits=hits_as_dicts(match.hits), score=match.score,
        profile_version=match.profile_version))
    # A librarian's confirmations, removals and additions stay; only suggestions are redone.
    # A deleted record's suggestions stay too: the linker no longer sees the record, and
    # restoring it brings its links back as they were.
    conn.execute(delete(MatchDriver).where(MatchDriver.match_id == match_id,
                                           MatchDriver.state == "suggested",
                                           MatchDriver.driver_id.not_in(_DELETED_RECORDS),
                                           ~_sent(match_id)))
    _insert_links(conn, [(match_id, match)])


def withdraw(conn: Connection, match_ids: Sequence[int]) -> None:
    """Delete matches nobody reviewed and that were never sent (with their driver links).
    The rows are locked while they are checked, so a review or a digest meanwhile wins."""
    if not match_ids:
        return
    # A match whose links a librarian changed counts as reviewed: deleting it would lose
    # a removal, and the link could come back with a later match of the item.
    unreviewed = (~exists().where(Review.match_id == Match.id)
                  & ~exists().where(MatchDriver.match_id == Match.id,
                                    MatchDriver.state != "suggested"))
    unsent = ~exists().where(DeliveryItem.match_id == Match.id)
    gone = conn.execute(select(Match.id).where(
        Match.id.in_(match_ids), Match.status.in_(("pending", "auto")), unreviewed, unsent)
        .with_for_update()).scalars().all()
    if gone:
        conn.execute(delete(MatchDriver).where(MatchDriver.match_id.in_(gone)))
        conn.execute(delete(Match).where(Match.id.in_(gone)))


def _sent(match_id: int) -> Exists:
    return exists().where(DeliveryItem.match_id == match_id)


def count(conn: Connection) -> int:
    """How many matches are stored."""
    return conn.execute(select(func.count()).select_from(Match)).scalar_one()
