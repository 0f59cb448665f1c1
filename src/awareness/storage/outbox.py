"""The outbox and the items digests carried (storage: all their SQL, Core statements).

Every function takes a ``Connection`` inside a transaction from ``storage.db``: queueing and
marking are writes, each one short; claiming a row is a write too (the row's status changes
so that no other relay takes it). Nothing here sends mail. Values returned are the core's
(``mail.outbox``, ``digests.build``), never rows.

Claiming takes the due row with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two relays
never send one row; SQLite's write transactions (``BEGIN IMMEDIATE``) take turns anyway.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    ColumnElement,
    Connection,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from awareness.digests.build import Candidate, LinkedRecord
from awareness.mail.compose import Mail
from awareness.mail.outbox import DIGEST, UNSENT, Claimed, Queued, Stored, Unsent
from awareness.model import Hit
from awareness.storage.models import (
    DeliveryItem,
    DriverRecordRow,
    Item,
    Match,
    MatchDriver,
    Source,
)
from awareness.storage.models import OutboxMessage as Outbox
from awareness.topics.explain import hits_from_dicts

_CHUNK = 500  # keys per IN list, well under SQLite's limit on bound values
_CLAIM_COLUMNS = (Outbox.id, Outbox.kind, Outbox.key, Outbox.sender, Outbox.recipient,
                  Outbox.message_id, Outbox.message, Outbox.attempts, Outbox.created_at,
                  Outbox.subscriber_id, Outbox.status)
_IS_DUE = (Outbox.status.in_(UNSENT), Outbox.next_attempt_at <= bindparam("due_by"),
           Outbox.message.is_not(None))
_DUE = select(*_CLAIM_COLUMNS).where(*_IS_DUE).order_by(Outbox.next_attempt_at, Outbox.id).limit(1)
_DUE_COUNT = select(func.count()).select_from(Outbox).where(*_IS_DUE)
_DUE_UNLOCKED = _DUE.with_for_update(skip_locked=True)  # PostgreSQL: what no relay holds
_TAKE = (update(Outbox).where(Outbox.id == bindparam("row_id"))
         .values(status="sending", attempts=Outbox.attempts + 1,
                 next_attempt_at=bindparam("lease_until")))
# One statement for every mark, built once: a relay marks a row per message it sends.
_MARK = (update(Outbox).where(Outbox.id == bindparam("row_id"))
         .values(status=bindparam("new_status"), sent_at=bindparam("sent"),
                 next_attempt_at=bindparam("next"), last_error=bindparam("error")))
_ADD_ITEMS = insert(DeliveryItem)
# INSERT … ON CONFLICT (kind, key) DO NOTHING RETURNING id, in each dialect's spelling.
_QUEUE = {"postgresql": postgresql.insert(Outbox).on_conflict_do_nothing().returning(Outbox.id),
          "sqlite": sqlite.insert(Outbox).on_conflict_do_nothing().returning(Outbox.id)}
SENDABLE = ("approved", "auto")  # match statuses that go into digests
# A story (the same document from several publishers) is sent once: once any of its items
# reached the subscriber, the other publishers' copies are not sent later either.
_STORY = func.coalesce(Item.story_id, Item.id)
_DELIVERED_STORIES = (select(_STORY).join(DeliveryItem, DeliveryItem.item_id == Item.id)
                      .where(DeliveryItem.subscriber_id == bindparam("subscriber_id")))
# In the order of ``Candidate``'s fields, the hits (JSON) last, as text: each distinct
# value is parsed once however many digests carry the match (``_hits``).
_CANDIDATES = (
    select(Match.id, Match.item_id, Match.topic_slug, Item.title, Item.link, Source.publisher,
           Item.published_at, Item.summary_text, Match.score,
           # The note for readers, never the review log's (issue 12).
           func.coalesce(Match.reader_note, ""),
           _STORY, cast(Match.hits, Text))
    .join(Item, Item.id == Match.item_id).join(Source, Source.id == Item.source_id)
    .where(Match.topic_slug.in_(bindparam("slugs", expanding=True)),
           Match.status.in_(SENDABLE), Item.first_seen_at >= bindparam("since"),
           _STORY.not_in(_DELIVERED_STORIES))
    .order_by(Match.id))
_RECORDS = (
    select(MatchDriver.match_id, DriverRecordRow.slug, DriverRecordRow.title,
           DriverRecordRow.impact, MatchDriver.kind)
    .join(DriverRecordRow, DriverRecordRow.id == MatchDriver.driver_id)
    .where(MatchDriver.match_id.in_(bindparam("match_ids", expanding=True)),
           MatchDriver.state != "removed",  # a librarian took the link off (issue 14)
           # Only published records reach readers: a draft is a librarian's work (issue 12).
           func.coalesce(DriverRecordRow.status, "active") == "active")
    .order_by(MatchDriver.match_id, MatchDriver.score.desc(), MatchDriver.id))


def queue(connection: Connection, message: Queued, now: datetime,
          items: Mapping[int, int] | None = None) -> bool:
    """Write ``message``, pending and due now, with the ``items`` (item id → match id) a digest
    carries; False, writing nothing, when its kind and key are queued already or another run
    delivered one of the items to the subscriber meanwhile."""
    statement = _QUEUE[connection.dialect.name]
    mail = message.mail
    try:
        with connection.begin_nested():
            outbox_id = connection.execute(statement, {
                "kind": message.kind, "key": message.key,
                "subscriber_id": message.subscriber_id, "sender": mail.sender,
                "recipient": mail.recipient, "message_id": mail.message_id,
                "message": mail.data, "status": "pending", "attempts": 0,
                "next_attempt_at": now, "created_at": now}).scalar()
            if outbox_id is None:
                return False
            if items:
                connection.execute(_ADD_ITEMS, [
                    {"outbox_id": outbox_id, "subscriber_id": message.subscriber_id,
                     "item_id": item_id, "match_id": match_id}
                    for item_id, match_id in items.items()])
    except IntegrityError:
        return False
    return True


def queued_keys(connection: Connection, kind: str, keys: Collection[str]) -> set[str]:
    """Which of ``keys`` have a message of ``kind`` in the outbox, whatever its status."""
    found: set[str] = set()
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), _CHUNK):
        found.update(connection.scalars(select(Outbox.key).where(
            Outbox.kind == kind, Outbox.key.in_(wanted[start:start + _CHUNK]))))
    return found


def statuses(connection: Connection, kind: str, keys: Collection[str]) -> dict[str, Unsent]:
    """The status and last error of each of ``keys`` of ``kind`` that is in the outbox."""
    rows = connection.execute(select(Outbox.key, Outbox.status, Outbox.last_error).where(
        Outbox.kind == kind, Outbox.key.in_(sorted(set(keys)))))
    return {key: Unsent(kind, status, error) for key, status, error in rows}


def due_count(connection: Connection, *, due_by: datetime) -> int:
    """How many messages a relay pass would try that takes the ones due by ``due_by``."""
    return int(connection.scalar(_DUE_COUNT, {"due_by": due_by}) or 0)


def claim_next(connection: Connection, *, due_by: datetime,
               lease_until: datetime) -> Claimed | None:
    """Take the first due row (pending, or sending with its lease run out) for sending until
    ``lease_until``, counting the attempt; None when nothing is due."""
    query = _DUE_UNLOCKED if connection.dialect.name == "postgresql" else _DUE
    row = connection.execute(query, {"due_by": due_by}).first()
    if row is None:
        return None
    connection.execute(_TAKE, {"row_id": row.id, "lease_until": lease_until})
    return Claimed(id=row.id, kind=row.kind, key=row.key,
                   mail=Mail(row.sender, row.recipient, row.message_id, bytes(row.message)),
                   attempts=row.attempts + 1, created_at=row.created_at,
                   subscriber_id=row.subscriber_id, resent=row.status == "sending")


def mark_sent(connection: Connection, row_id: int, now: datetime) -> None:
    """The server accepted the message."""
    connection.execute(_MARK, {"row_id": row_id, "new_status": "sent", "sent": now,
                               "next": None, "error": None})


def mark_retry(connection: Connection, row_id: int, at: datetime, error: str) -> None:
    """The message failed for now: pending again, due at ``at``."""
    connection.execute(_MARK, {"row_id": row_id, "new_status": "pending", "sent": None,
                               "next": at, "error": error})


def mark_failed(connection: Connection, row_id: int, error: str) -> None:
    """The relay gave the message up."""
    connection.execute(_MARK, {"row_id": row_id, "new_status": "failed", "sent": None,
                               "next": None, "error": error})


def unsent(connection: Connection) -> list[Unsent]:
    """Every message still to be sent (pending or sending), in outbox order."""
    rows = connection.execute(select(Outbox.kind, Outbox.status, Outbox.last_error)
                              .where(Outbox.status.in_(UNSENT)).order_by(Outbox.id))
    return [Unsent(kind, status, error) for kind, status, error in rows]


def oldest_unsent(connection: Connection) -> tuple[int, datetime | None]:
    """How many messages are still to be sent (pending or sending), and when the oldest of
    them was written (None when there is none)."""
    count, oldest = connection.execute(
        select(func.count(Outbox.id), func.min(Outbox.created_at))
        .where(Outbox.status.in_(UNSENT))).one()
    return int(count), oldest


def about(connection: Connection, subscriber_id: int, email: str) -> list[Stored]:
    """Every message for the subscriber or addressed to ``email``, oldest first."""
    rows = connection.execute(select(
        Outbox.id, Outbox.kind, Outbox.key, Outbox.status, Outbox.message_id,
        Outbox.created_at, Outbox.sent_at).where(_about(subscriber_id, email))
        .order_by(Outbox.id)).all()
    titles: dict[int, list[str]] = {}
    for outbox_id, title in connection.execute(
            select(DeliveryItem.outbox_id, Item.title).join(Item, Item.id == DeliveryItem.item_id)
            .where(DeliveryItem.subscriber_id == subscriber_id).order_by(Item.id)):
        titles.setdefault(outbox_id, []).append(title)
    return [Stored(row.kind, row.key, row.status, row.message_id, row.created_at, row.sent_at,
                   tuple(titles.get(row.id, ()))) for row in rows]


def erase_for(connection: Connection, subscriber_id: int, email: str) -> int:
    """Delete every message for the subscriber or addressed to ``email`` and the record of
    what their digests carried; the number of messages deleted."""
    connection.execute(delete(DeliveryItem).where(DeliveryItem.subscriber_id == subscriber_id))
    deleted = connection.execute(delete(Outbox).where(_about(subscriber_id, email)))
    return int(deleted.rowcount or 0)


def digest_message(connection: Connection, key: str) -> bytes | None:
    """The stored bytes of the digest queued under ``key``, whatever its status; None when
    there is none (never queued, erased, or a row moved in without a body)."""
    data = connection.scalar(select(Outbox.message).where(Outbox.kind == DIGEST,
                                                          Outbox.key == key))
    return bytes(data) if data is not None else None


def undelivered(connection: Connection, subscriber_id: int, topics: Collection[str],
                since: datetime) -> list[Candidate]:
    """The sendable matches of ``topics`` whose items were first seen at ``since`` or later
    and whose stories the subscriber has not been sent, with their linked driver records:
    two statements."""
    if not topics:
        return []
    rows = connection.execute(_CANDIDATES, {"slugs": sorted(topics), "since": since,
                                            "subscriber_id": subscriber_id}).all()
    records = linked_records(connection, [r[0] for r in rows])
    return [Candidate(match_id, item_id, topic, title, link, publisher, published, summary,
                      score, note, story, _hits(hits), tuple(records.get(match_id, ())))
            for (match_id, item_id, topic, title, link, publisher, published, summary, score,
                 note, story, hits) in rows]


def linked_records(connection: Connection,
                   match_ids: Collection[int]) -> dict[int, list[LinkedRecord]]:
    """The active driver records linked to each of ``match_ids``, best link first."""
    records: dict[int, list[LinkedRecord]] = {}
    if match_ids:
        for match_id, *record in connection.execute(_RECORDS, {"match_ids": list(match_ids)}):
            records.setdefault(match_id, []).append(LinkedRecord(*record))
    return records


@lru_cache(maxsize=4096)
def _hits(stored: str | None) -> tuple[Hit, ...]:
    """A match's hits from their stored JSON text."""
    return hits_from_dicts(json.loads(stored)) if stored else ()


def _about(subscriber_id: int, email: str) -> ColumnElement[bool]:
    return or_(Outbox.subscriber_id == subscriber_id,
               func.lower(Outbox.recipient) == email.strip().lower())


def forget(connection: Connection, kind: str, before: datetime) -> int:
    """Delete the finished (sent or given up) messages of ``kind`` created before ``before``:
    mail whose copy nobody needs, to addresses that may never have become subscribers."""
    return connection.execute(delete(Outbox).where(
        Outbox.kind == kind, Outbox.status.not_in(UNSENT), Outbox.created_at < before)).rowcount


def count_by_status(connection: Connection, kind: str) -> dict[str, int]:
    """How many messages of ``kind`` the outbox holds, by status (bench/workers.py)."""
    return {status: int(n) for status, n in connection.execute(
        select(Outbox.status, func.count()).where(Outbox.kind == kind)
        .group_by(Outbox.status))}


def last_sent(connection: Connection, kind: str,
              subscriber_ids: Collection[int]) -> dict[int, datetime]:
    """When each of these subscribers was last sent a message of ``kind`` (those never sent
    one are left out)."""
    if not subscriber_ids:
        return {}
    rows = connection.execute(
        select(Outbox.subscriber_id, func.max(Outbox.sent_at))
        .where(Outbox.subscriber_id.in_(sorted(subscriber_ids)), Outbox.kind == kind,
               Outbox.status == "sent")
        .group_by(Outbox.subscriber_id))
    return {subscriber_id: sent for subscriber_id, sent in rows
            if subscriber_id is not None and sent is not None}
