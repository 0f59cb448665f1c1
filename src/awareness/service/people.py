"""Staff subscribers (librarian accounts are in ``service.librarians``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from awareness.addresses import address_problem
from awareness.digests.render import mask_address
from awareness.errors import AwarenessError, NotFound
from awareness.service.context import Context
from awareness.storage.db import transaction
from awareness.storage.models import (
    Delivery,
    DeliveryItem,
    Item,
    Subscriber,
    Subscription,
)


@dataclass(frozen=True)
class SubscriberView:
    id: int
    email: str
    frequency: str
    topics: list[str]
    created_at: datetime
    active: bool
    suspended_reason: str | None = None

    def as_json(self) -> dict[str, object]:
        return {**self.__dict__, "created_at": self.created_at.isoformat()}



def add_subscriber(ctx: Context, email: str, topics: list[str], frequency: str) -> SubscriberView:
    """Subscribe an address to topics; adding topics to an existing subscriber merges them."""
    email = email.strip()
    problem = address_problem(email)
    if problem:
        raise AwarenessError(f"{email!r} is not an e-mail address: {problem}")
    if frequency not in ("daily", "weekly"):
        raise AwarenessError("frequency must be daily or weekly")
    if not topics:
        raise AwarenessError("name at least one topic with --topic")
    for slug in topics:
        ctx.topic(slug)  # raises with the list of known topics
    with transaction(ctx.sessions) as session:
        row = session.scalar(select(Subscriber).where(Subscriber.email == email.lower()))
        if row is None:
            row = Subscriber(email=email.lower(), frequency=frequency,
                             token=secrets.token_urlsafe(32), created_at=ctx.now())
            session.add(row)
        row.frequency, row.unsubscribed_at, row.suspended_reason = frequency, None, None
        have = {s.topic_slug for s in row.subscriptions}
        row.subscriptions.extend(Subscription(topic_slug=t) for t in topics if t not in have)
        session.flush()
        return _subscriber_view(row)


def _subscriber_view(row: Subscriber) -> SubscriberView:
    return SubscriberView(row.id, row.email, row.frequency,
                          sorted(s.topic_slug for s in row.subscriptions), row.created_at,
                          row.unsubscribed_at is None, row.suspended_reason)


def list_subscribers(ctx: Context) -> list[SubscriberView]:
    with ctx.sessions() as session:
        return [_subscriber_view(r) for r in session.scalars(select(Subscriber).order_by(
            Subscriber.email))]


def subscriber_for_token(ctx: Context, token: str) -> SubscriberView | None:
    with ctx.sessions() as session:
        row = session.scalar(select(Subscriber).where(Subscriber.token == token))
        return _subscriber_view(row) if row else None


def unsubscribe(ctx: Context, token: str) -> bool:
    """Unsubscribe the holder of ``token`` from every digest; repeating it is harmless."""
    with transaction(ctx.sessions) as session:
        row = session.scalar(select(Subscriber).where(Subscriber.token == token))
        if row is None:
            return False
        if row.unsubscribed_at is None:
            row.unsubscribed_at = ctx.now()
        return True


def remove_subscriber(ctx: Context, email: str) -> None:
    with transaction(ctx.sessions) as session:
        row = _subscriber_row(session, email)
        row.unsubscribed_at = row.unsubscribed_at or ctx.now()


def export_subscriber(ctx: Context, email: str) -> dict[str, object]:
    """Everything stored about one subscriber (a subject access request, UK GDPR art. 15)."""
    with ctx.sessions() as session:
        row = _subscriber_row(session, email)
        deliveries = session.scalars(
            select(Delivery).where(Delivery.subscriber_id == row.id).order_by(Delivery.id))
        return {
            **_subscriber_view(row).as_json(),
            "unsubscribed_at": row.unsubscribed_at.isoformat() if row.unsubscribed_at else None,
            "deliveries": [{
                "period": d.period_key, "status": d.status, "message_id": d.message_id,
                "created_at": d.created_at.isoformat(),
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                "items": [title for (title,) in session.execute(
                    select(Item.title).join(DeliveryItem, DeliveryItem.item_id == Item.id)
                    .where(DeliveryItem.delivery_id == d.id).order_by(Item.id))],
            } for d in deliveries],
        }


def erase_subscriber(ctx: Context, email: str) -> int:
    """Delete a subscriber and every row about them (outbox, delivered items, topics).

    Returns the number of outbox messages deleted. Unlike ``remove_subscriber`` nothing is
    kept, so a later digest could repeat items they already had if they subscribe again.
    """
    with transaction(ctx.sessions) as session:
        row = _subscriber_row(session, email)
        session.execute(delete(DeliveryItem).where(DeliveryItem.subscriber_id == row.id))
        erased = session.execute(delete(Delivery).where(Delivery.subscriber_id == row.id))
        session.delete(row)
        return int(getattr(erased, "rowcount", 0) or 0)


def _subscriber_row(session: Session, email: str) -> Subscriber:
    row = session.scalar(select(Subscriber).where(Subscriber.email == email.strip().lower()))
    if row is None:
        raise NotFound(f"no subscriber {mask_address(email)}")
    return row
