"""Subscribers and their subscriptions (storage: all their SQL, Core statements).

Every function takes a ``Connection`` inside a transaction from ``storage.db`` and returns
``digests.subscribers.Subscriber`` values, never rows. Addresses are stored in lower case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, Executable, delete, insert, select, update

from awareness.digests.subscribers import Subscriber
from awareness.storage.models import Subscriber as SubscriberRow
from awareness.storage.models import Subscription

_COLUMNS = (SubscriberRow.id, SubscriberRow.email, SubscriberRow.frequency,
            SubscriberRow.token, SubscriberRow.created_at, SubscriberRow.unsubscribed_at,
            SubscriberRow.suspended_reason, Subscription.topic_slug)
_WITH_TOPICS = (select(*_COLUMNS)
                .outerjoin(Subscription, Subscription.subscriber_id == SubscriberRow.id)
                .order_by(SubscriberRow.email, Subscription.topic_slug))


def by_email(connection: Connection, email: str) -> Subscriber | None:
    """The subscriber with this address (any case, surrounding space ignored), or None."""
    found = _load(connection, _WITH_TOPICS.where(SubscriberRow.email == email.strip().lower()))
    return found[0] if found else None


def by_token(connection: Connection, token: str) -> Subscriber | None:
    """The subscriber whose unsubscribe link carries ``token``, or None."""
    found = _load(connection, _WITH_TOPICS.where(SubscriberRow.token == token))
    return found[0] if found else None


def every_subscriber(connection: Connection) -> list[Subscriber]:
    """All subscribers, active or not, by address."""
    return _load(connection, _WITH_TOPICS)


def for_digests(connection: Connection, frequency: str | None = None) -> list[Subscriber]:
    """The subscribers digests go to (of one frequency, when given), by id."""
    query = _WITH_TOPICS.where(SubscriberRow.unsubscribed_at.is_(None)).order_by(None).order_by(
        SubscriberRow.id, Subscription.topic_slug)
    if frequency:
        query = query.where(SubscriberRow.frequency == frequency)
    return _load(connection, query)


def subscribe(connection: Connection, *, email: str, frequency: str, topics: Sequence[str],
              token: str, now: datetime) -> Subscriber:
    """Add the subscriber (``token`` for a new one) or renew them: frequency set, active
    again, suspension lifted, ``topics`` added to theirs."""
    email = email.strip().lower()
    existing = by_email(connection, email)
    if existing is None:
        subscriber_id = connection.execute(insert(SubscriberRow).values(
            email=email, frequency=frequency, token=token, created_at=now)
            .returning(SubscriberRow.id)).scalar_one()
        have: Iterable[str] = ()
    else:
        subscriber_id, have = existing.id, existing.topics
        connection.execute(update(SubscriberRow).where(SubscriberRow.id == subscriber_id).values(
            frequency=frequency, unsubscribed_at=None, suspended_reason=None))
    new = [{"subscriber_id": subscriber_id, "topic_slug": slug}
           for slug in dict.fromkeys(topics) if slug not in set(have)]
    if new:
        connection.execute(insert(Subscription), new)
    subscriber = by_email(connection, email)
    assert subscriber is not None
    return subscriber


def unsubscribe(connection: Connection, subscriber_id: int, now: datetime) -> None:
    """Stop their digests (keeping when they first stopped, if they had)."""
    connection.execute(update(SubscriberRow).where(
        SubscriberRow.id == subscriber_id, SubscriberRow.unsubscribed_at.is_(None))
        .values(unsubscribed_at=now))


def suspend(connection: Connection, subscriber_id: int, reason: str, now: datetime) -> None:
    """Stop their digests because of their address itself (a hard bounce), saying why."""
    unsubscribe(connection, subscriber_id, now)
    connection.execute(update(SubscriberRow).where(SubscriberRow.id == subscriber_id)
                       .values(suspended_reason=reason[:500]))


def erase(connection: Connection, subscriber_id: int) -> None:
    """Delete the subscriber and their subscriptions (their messages: ``outbox.erase_for``)."""
    connection.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber_id))
    connection.execute(delete(SubscriberRow).where(SubscriberRow.id == subscriber_id))


def _load(connection: Connection, query: Executable) -> list[Subscriber]:
    """Subscribers from rows of ``_COLUMNS``, one per subscriber, in the rows' order."""
    found: dict[int, Subscriber] = {}
    topics: dict[int, list[str]] = {}
    for row in connection.execute(query):
        if row.id not in found:
            found[row.id] = Subscriber(row.id, row.email, row.frequency, row.token,
                                       row.created_at, row.unsubscribed_at,
                                       row.suspended_reason, ())
            topics[row.id] = []
        if row.topic_slug is not None:
            topics[row.id].append(row.topic_slug)
    return [replace(s, topics=tuple(topics[i])) for i, s in found.items()]
