"""Subscribers and their subscriptions (storage: all their SQL, Core statements).

Every function takes a ``Connection`` inside a transaction from ``storage.db`` and returns
``digests.subscribers.Subscriber`` values (their history: ``model.SubscriberEvent``), never
rows. Addresses are stored in lower case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from awareness.digests.subscribers import Subscriber
from awareness.model import SubscriberEvent
from awareness.storage.models import Subscriber as SubscriberRow
from awareness.storage.models import SubscriberEvent as EventRow
from awareness.storage.models import Subscription

_COLUMNS = (SubscriberRow.id, SubscriberRow.email, SubscriberRow.frequency,
            SubscriberRow.token, SubscriberRow.created_at, SubscriberRow.unsubscribed_at,
            SubscriberRow.suspended_reason, SubscriberRow.confirmed_at,
            SubscriberRow.paused_until, SubscriberRow.bulletins, Subscription.topic_slug,
            Subscription.frequency.label("topic_frequency"))
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


def by_id(connection: Connection, subscriber_id: int) -> Subscriber | None:
    """The subscriber with this id, or None."""
    found = _load(connection, _WITH_TOPICS.where(SubscriberRow.id == subscriber_id))
    return found[0] if found else None


def every_subscriber(connection: Connection) -> list[Subscriber]:
    """All subscribers, active or not, by address."""
    return _load(connection, _WITH_TOPICS)


def for_digests(connection: Connection, now: datetime, frequency: str | None = None,
                shard: tuple[int, int] | None = None) -> list[Subscriber]:
    """One value per subscriber and frequency that digests go to at ``now`` (of
    ``frequency``, when given), by id: confirmed, subscribed, not paused; its ``topics`` are
    those they follow at that frequency. ``shard`` (k, n): only the subscribers whose id is
    k modulo n (the queue's digest jobs split the work so)."""
    query = (_WITH_TOPICS.where(
        SubscriberRow.unsubscribed_at.is_(None), SubscriberRow.confirmed_at.is_not(None),
        or_(SubscriberRow.paused_until.is_(None), SubscriberRow.paused_until <= now),
        Subscription.id.is_not(None))
        .order_by(None).order_by(SubscriberRow.id, Subscription.topic_slug))
    if frequency:
        query = query.where(Subscription.frequency == frequency)
    if shard is not None:
        query = query.where(SubscriberRow.id % shard[1] == shard[0])
    return [replace(subscriber, frequency=each, topics=tuple(
                slug for slug, how in subscriber.subscriptions if how == each))
            for subscriber in _load(connection, query)
            for each in dict.fromkeys(how for _, how in subscriber.subscriptions)]


def subscribe(connection: Connection, *, email: str, choices: Sequence[tuple[str, str]],
              token: str, now: datetime, bulletins: bool | None = None) -> Subscriber:
    """Add the subscriber (``token`` for a new one), confirmed now, or renew them: active
    again, suspension lifted. ``choices`` are (topic, frequency): added to their topics, or
    in place of them when they had unsubscribed (signing up again starts afresh); likewise
    ``bulletins`` True turns bulletins on, and False leaves them as they were unless they had
    unsubscribed (a sign-up adds; the preference page takes away)."""
    email = email.strip().lower()
    existing = by_email(connection, email)
    latest = choices[-1][1] if choices else "weekly"
    if existing is None:
        subscriber_id = connection.execute(insert(SubscriberRow).values(
            email=email, frequency=latest, token=token, created_at=now, confirmed_at=now,
            bulletins=bool(bulletins)).returning(SubscriberRow.id)).scalar_one()
    else:
        subscriber_id = existing.id
        changes: dict[str, object] = {
            "frequency": latest, "unsubscribed_at": None, "suspended_reason": None,
            "confirmed_at": existing.confirmed_at or now}
        if bulletins is not None:
            changes["bulletins"] = bulletins or (
                existing.bulletins and existing.unsubscribed_at is None)
        connection.execute(update(SubscriberRow).where(SubscriberRow.id == subscriber_id)
                           .values(**changes))
        if existing.unsubscribed_at is not None:
            connection.execute(delete(Subscription).where(
                Subscription.subscriber_id == subscriber_id))
    _upsert_topics(connection, subscriber_id, choices)
    subscriber = by_email(connection, email)
    assert subscriber is not None
    return subscriber


def set_topics(connection: Connection, subscriber_id: int,
               choices: Sequence[tuple[str, str]]) -> None:
    """Their topics become exactly ``choices`` (topic, frequency)."""
    connection.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber_id))
    _upsert_topics(connection, subscriber_id, choices)


def drop_topic(connection: Connection, subscriber_id: int, topic: str) -> None:
    """Stop one topic of theirs (the others go on)."""
    connection.execute(delete(Subscription).where(
        Subscription.subscriber_id == subscriber_id, Subscription.topic_slug == topic))


def set_preferences(connection: Connection, subscriber_id: int, *,
                    paused_until: datetime | None, bulletins: bool) -> None:
    """Their pause (None: not paused) and their bulletin opt-in."""
    connection.execute(update(SubscriberRow).where(SubscriberRow.id == subscriber_id).values(
        paused_until=paused_until, bulletins=bulletins))


def set_bulletins(connection: Connection, subscriber_id: int, on: bool) -> None:
    """Their bulletin opt-in alone (the one-click "stop bulletins" link)."""
    connection.execute(update(SubscriberRow).where(SubscriberRow.id == subscriber_id)
                       .values(bulletins=on))


def _upsert_topics(connection: Connection, subscriber_id: int,
                   choices: Sequence[tuple[str, str]]) -> None:
    have = {topic: how for topic, how in connection.execute(
        select(Subscription.topic_slug, Subscription.frequency)
        .where(Subscription.subscriber_id == subscriber_id))}
    wanted = dict(choices)
    new = [{"subscriber_id": subscriber_id, "topic_slug": topic, "frequency": how}
           for topic, how in wanted.items() if topic not in have]
    if new:
        connection.execute(insert(Subscription), new)
    for topic, how in wanted.items():
        if topic in have and have[topic] != how:
            connection.execute(update(Subscription).where(
                Subscription.subscriber_id == subscriber_id, Subscription.topic_slug == topic)
                .values(frequency=how))


def unsubscribe(connection: Connection, subscriber_id: int, now: datetime) -> bool:
    """Stop their digests (keeping when they first stopped, if they had); False when they
    had stopped already."""
    done = connection.execute(update(SubscriberRow).where(
        SubscriberRow.id == subscriber_id, SubscriberRow.unsubscribed_at.is_(None))
        .values(unsubscribed_at=now))
    return bool(done.rowcount)


def undo_unsubscribe(connection: Connection, subscriber_id: int) -> bool:
    """Send their digests again as before they were unsubscribed (a pause they had goes on);
    False, changing nothing, when they are not unsubscribed or are suspended."""
    done = connection.execute(update(SubscriberRow).where(
        SubscriberRow.id == subscriber_id, SubscriberRow.unsubscribed_at.is_not(None),
        SubscriberRow.suspended_reason.is_(None)).values(unsubscribed_at=None))
    return bool(done.rowcount)


def suspend(connection: Connection, subscriber_id: int, reason: str, now: datetime) -> bool:
    """Stop their digests because of their address itself (a hard bounce), saying why;
    False, changing nothing, when they are suspended already (a second bounce keeps the
    first reason)."""
    unsubscribe(connection, subscriber_id, now)
    done = connection.execute(update(SubscriberRow).where(
        SubscriberRow.id == subscriber_id, SubscriberRow.suspended_reason.is_(None))
        .values(suspended_reason=reason[:500]))
    return bool(done.rowcount)


def erase(connection: Connection, subscriber_id: int) -> None:
    """Delete the subscriber, their subscriptions and (by ON DELETE CASCADE) their history
    (their messages: ``outbox.erase_for``)."""
    connection.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber_id))
    connection.execute(delete(SubscriberRow).where(SubscriberRow.id == subscriber_id))


def resume(connection: Connection, subscriber_id: int) -> None:
    """Send their digests again: no longer unsubscribed, suspended or paused; their topics
    are kept."""
    connection.execute(update(SubscriberRow).where(SubscriberRow.id == subscriber_id).values(
        unsubscribed_at=None, suspended_reason=None, paused_until=None))


# --- their history (``awareness.subscriber_history``) -----------------------------------------

MAX_DETAIL = 1000
_EVENTS = (select(EventRow.subscriber_id, EventRow.what, EventRow.detail, EventRow.by,
                  EventRow.at).order_by(EventRow.at.desc(), EventRow.id.desc()))


def record_event(connection: Connection, subscriber_id: int, what: str, detail: str, *,
                 by: str, now: datetime) -> None:
    """Add a line to their history: ``what`` happened, ``detail``, ``by`` whom."""
    connection.execute(insert(EventRow), {"subscriber_id": subscriber_id, "what": what,
                                          "detail": detail[:MAX_DETAIL], "by": by, "at": now})


def events(connection: Connection, subscriber_id: int,
           limit: int | None = None) -> list[SubscriberEvent]:
    """Their history, newest first (the latest ``limit`` lines, when given)."""
    rows = connection.execute(_EVENTS.where(EventRow.subscriber_id == subscriber_id)
                              .limit(limit))
    return [SubscriberEvent(r.subscriber_id, r.what, r.detail, r.by, r.at) for r in rows]


# --- the librarians' list (``awareness.roster``) ---------------------------------------------

def status_case(now: datetime) -> ColumnElement[str]:
    """Each subscriber's status at ``now``, by the rules of ``roster.status_of``."""
    return case(
        (SubscriberRow.suspended_reason.is_not(None), "suspended"),
        (SubscriberRow.unsubscribed_at.is_not(None), "unsubscribed"),
        (SubscriberRow.confirmed_at.is_(None), "pending"),
        (SubscriberRow.paused_until > now, "paused"),
        else_="active")


def status_counts(connection: Connection, now: datetime, *, text: str = "",
                  topic: str = "") -> dict[str, int]:
    """How many subscribers whose address contains ``text`` and who get ``topic`` (when
    given) have each status at ``now``; statuses nobody has are left out."""
    statuses = select(status_case(now).label("status")).where(*_found(text, topic)).subquery()
    return {status: count for status, count in connection.execute(
        select(statuses.c.status, func.count()).group_by(statuses.c.status))}


def found(connection: Connection, now: datetime, *, text: str = "", topic: str = "",
          status: str = "", offset: int = 0, limit: int | None = None) -> list[Subscriber]:
    """The subscribers whose address contains ``text``, who get ``topic`` and have
    ``status`` at ``now`` (each when given), by address, ``limit`` of them from
    ``offset``."""
    wanted = select(SubscriberRow.id).where(*_found(text, topic))
    if status:
        wanted = wanted.where(status_case(now) == status)
    ids = list(connection.scalars(
        wanted.order_by(SubscriberRow.email).offset(offset).limit(limit)))
    return _load(connection, _WITH_TOPICS.where(SubscriberRow.id.in_(ids))) if ids else []


def _found(text: str, topic: str) -> list[ColumnElement[bool]]:
    clauses = []
    if text:  # addresses are stored in lower case
        clauses.append(SubscriberRow.email.contains(text.lower(), autoescape=True))
    if topic:
        clauses.append(SubscriberRow.id.in_(select(Subscription.subscriber_id)
                                            .where(Subscription.topic_slug == topic)))
    return clauses


def _load(connection: Connection, query: Executable) -> list[Subscriber]:
    """Subscribers from rows of ``_COLUMNS``, one per subscriber, in the rows' order."""
    found: dict[int, Subscriber] = {}
    subscriptions: dict[int, list[tuple[str, str]]] = {}
    for row in connection.execute(query):
        if row.id not in found:
            found[row.id] = Subscriber(
                row.id, row.email, row.frequency, row.token, row.created_at,
                row.unsubscribed_at, row.suspended_reason, (), confirmed_at=row.confirmed_at,
                paused_until=row.paused_until, bulletins=bool(row.bulletins))
            subscriptions[row.id] = []
        if row.topic_slug is not None:
            subscriptions[row.id].append((row.topic_slug, row.topic_frequency))
    return [replace(s, topics=tuple(slug for slug, _ in subscriptions[i]),
                    subscriptions=tuple(subscriptions[i])) for i, s in found.items()]
