"""The figures of the impact report (storage: all their SQL; issue 17). Each function counts
one thing over a time range [start, end) and returns plain counts or pairs; the core
(``awareness.impact``) groups and rates them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, distinct, func, or_, select

from awareness.reports.figures import DUE_FIELD
from awareness.storage.models import (
    DriverRecordRow,
    DriverRecordVersion,
    Feedback,
    Item,
    ItemClick,
    Match,
    OutboxMessage,
    Source,
    Subscriber,
    Subscription,
)


def source_names(conn: Connection) -> dict[str, str]:
    """Every source's name by id."""
    return {row.id: row.name for row in conn.execute(select(Source.id, Source.name))}


def _reader_at(end: datetime) -> ColumnElement[bool]:
    """A reader at ``end``: confirmed before it, not unsubscribed by then."""
    return and_(Subscriber.confirmed_at.is_not(None), Subscriber.confirmed_at < end,
                or_(Subscriber.unsubscribed_at.is_(None), Subscriber.unsubscribed_at >= end))


def reader_addresses(conn: Connection, end: datetime) -> list[str]:
    """The addresses of the readers at ``end``."""
    return list(conn.execute(select(Subscriber.email).where(_reader_at(end))).scalars())


def reader_topics(conn: Connection, end: datetime) -> list[tuple[int, str]]:
    """(reader id, topic slug) for each topic each reader at ``end`` follows (as now)."""
    rows = conn.execute(select(Subscription.subscriber_id, Subscription.topic_slug)
                        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
                        .where(_reader_at(end)))
    return [(row.subscriber_id, row.topic_slug) for row in rows]


def new_readers(conn: Connection, start: datetime, end: datetime) -> int:
    """Readers confirmed in the range (and not erased since)."""
    return _count(conn, select(func.count()).select_from(Subscriber).where(
        Subscriber.confirmed_at >= start, Subscriber.confirmed_at < end))


def sent_by_kind(conn: Connection, start: datetime, end: datetime) -> dict[str, int]:
    """Messages the mail server accepted in the range, per kind (digest, bulletin …)."""
    rows = conn.execute(select(OutboxMessage.kind, func.count().label("n"))
                        .where(OutboxMessage.status == "sent", OutboxMessage.sent_at >= start,
                               OutboxMessage.sent_at < end)
                        .group_by(OutboxMessage.kind))
    return {row.kind: int(row.n) for row in rows}


def feedback_answers(conn: Connection, start: datetime, end: datetime) -> list[tuple[str, str]]:
    """(topic slug, answer) of every item answer last given in the range."""
    rows = conn.execute(select(Feedback.topic_slug, Feedback.answer).where(
        Feedback.answer.is_not(None), Feedback.topic_slug.is_not(None),
        Feedback.updated_at >= start, Feedback.updated_at < end))
    return [(str(row.topic_slug), str(row.answer)) for row in rows]


def comments(conn: Connection, start: datetime, end: datetime) -> int:
    """Answers with a comment, last given in the range."""
    return _count(conn, select(func.count()).select_from(Feedback).where(
        Feedback.comment != "", Feedback.updated_at >= start, Feedback.updated_at < end))


def comment_texts(conn: Connection, start: datetime, end: datetime
                  ) -> list[tuple[datetime, str | None, str | None, str | None, str]]:
    """(when, topic slug, item title, answer, comment) of every answer with a comment last
    given in the range, oldest first; never who gave it."""
    rows = conn.execute(
        select(Feedback.updated_at, Feedback.topic_slug, Item.title, Feedback.answer,
               Feedback.comment)
        .outerjoin(Item, Item.id == Feedback.item_id)
        .where(Feedback.comment != "", Feedback.updated_at >= start, Feedback.updated_at < end)
        .order_by(Feedback.updated_at, Feedback.id))
    return [(row.updated_at, row.topic_slug, row.title, row.answer, row.comment)
            for row in rows]


def clicks(conn: Connection, start: datetime, end: datetime) -> int:
    """Reader-item clicks counted in the range."""
    return _count(conn, select(func.count()).select_from(ItemClick).where(
        ItemClick.clicked_at >= start, ItemClick.clicked_at < end))


def items_by_topic(conn: Connection, start: datetime,
                   end: datetime) -> list[tuple[str, int, int]]:
    """(topic slug, items matched in the range, of them approved or sent without review)."""
    onward = func.sum(case((Match.status.in_(("approved", "auto")), 1), else_=0))
    rows = conn.execute(select(Match.topic_slug, func.count().label("n"), onward.label("on"))
                        .where(Match.created_at >= start, Match.created_at < end)
                        .group_by(Match.topic_slug))
    return [(row.topic_slug, int(row.n), int(row.on or 0)) for row in rows]


def items_by_source(conn: Connection, start: datetime,
                    end: datetime) -> list[tuple[str, int, int]]:
    """(source id, new items first seen in the range, of them matched by any topic). A
    source's first poll (its baseline) is not news and is left out."""
    matched = select(Match.item_id).distinct().subquery()
    rows = conn.execute(
        select(Item.source_id, func.count(distinct(Item.id)).label("n"),
               func.count(distinct(matched.c.item_id)).label("m"))
        .outerjoin(matched, matched.c.item_id == Item.id)
        .where(Item.first_seen_at >= start, Item.first_seen_at < end,
               Item.baseline.is_(False))
        .group_by(Item.source_id))
    return [(row.source_id, int(row.n), int(row.m)) for row in rows]


def review_dates(conn: Connection) -> list[tuple[int, date | None]]:
    """Each active driver record's current review date."""
    rows = conn.execute(select(DriverRecordRow.id, DriverRecordRow.review_due_on)
                        .where(DriverRecordRow.status == "active"))
    return [(row.id, row.review_due_on) for row in rows]


def review_date_moves(conn: Connection) -> list[tuple[int, datetime, str]]:
    """(record id, when, the review date before) for every history entry that changed a
    record's review date. The history's JSON is read whole: its shape differs between
    backends' JSON operators, and a library's records change a few hundred times a year."""
    rows = conn.execute(select(DriverRecordVersion.driver_id, DriverRecordVersion.changed_at,
                               DriverRecordVersion.changes))
    return [(row.driver_id, row.changed_at, str(_old(row.changes) or ""))
            for row in rows if isinstance(row.changes, dict) and DUE_FIELD in row.changes]


def _old(changes: dict[str, Any]) -> object:
    pair = changes.get(DUE_FIELD)
    return pair[0] if isinstance(pair, list) and pair else None


def _count(conn: Connection, statement: Any) -> int:
    return int(conn.execute(statement).scalar_one() or 0)
