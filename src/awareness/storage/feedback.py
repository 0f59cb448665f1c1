"""Readers' feedback (storage: all its SQL; issue 17).

One row per reader and thing answered (``uq_feedback_subscriber_target``): a second answer
to the same item replaces the first, so every reader counts once per item whatever they
click, and the last answer is the one that counts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from awareness.feedback import FeedbackTarget, StoredAnswer
from awareness.storage.models import Feedback, Item, Subscriber


def record(connection: Connection, target: FeedbackTarget, *, answer: str | None,
           comment: str, now: datetime) -> None:
    """Store the reader's answer to ``target``, replacing any earlier one. An empty comment
    keeps the comment given before (answering "Useful" again does not erase what they wrote)."""
    make = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = make(Feedback).values(
        subscriber_id=target.subscriber_id, target=target.key, item_id=target.item_id,
        topic_slug=target.topic, answer=answer, comment=comment, created_at=now,
        updated_at=now)
    changes: dict[str, object] = {"answer": answer, "updated_at": now}
    if comment:
        changes["comment"] = comment
    connection.execute(statement.on_conflict_do_update(
        index_elements=["subscriber_id", "target"], set_=changes))


def answer_of(connection: Connection, target: FeedbackTarget) -> StoredAnswer | None:
    """The reader's answer to ``target`` so far, or None."""
    row = connection.execute(select(Feedback.answer, Feedback.comment).where(
        Feedback.subscriber_id == target.subscriber_id,
        Feedback.target == target.key)).first()
    return None if row is None else StoredAnswer(row.answer, row.comment)


def reader_exists(connection: Connection, subscriber_id: int) -> bool:
    """Is there still a subscriber with this id (erased readers' links stop working)?"""
    return connection.execute(select(Subscriber.id).where(
        Subscriber.id == subscriber_id)).first() is not None


def item_title(connection: Connection, item_id: int) -> str | None:
    """The title of the item a link is about, or None when it is gone."""
    return connection.execute(select(Item.title).where(Item.id == item_id)).scalar_one_or_none()


def erase_for(connection: Connection, subscriber_id: int) -> None:
    """Delete every answer of one reader (their erasure)."""
    connection.execute(delete(Feedback).where(Feedback.subscriber_id == subscriber_id))


def of_reader(connection: Connection, subscriber_id: int) -> list[dict[str, object]]:
    """Every answer of one reader, for their export."""
    rows = connection.execute(select(
        Feedback.target, Feedback.answer, Feedback.comment, Feedback.updated_at).where(
        Feedback.subscriber_id == subscriber_id).order_by(Feedback.id)).all()
    return [{"about": r.target, "answer": r.answer, "comment": r.comment,
             "at": r.updated_at.isoformat()} for r in rows]
