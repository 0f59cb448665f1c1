"""Counted clicks (storage: all their SQL; issue 17). One row per reader and item
(``uq_clicks_subscriber_item``): the first counted click; later ones change nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from awareness.clicks import Opened
from awareness.storage.models import DeliveryItem, Item, ItemClick, OutboxMessage


def record(connection: Connection, subscriber_id: int, item_id: int, now: datetime) -> None:
    """Count the reader's click on the item, unless one is counted already."""
    make = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(make(ItemClick).values(
        subscriber_id=subscriber_id, item_id=item_id, clicked_at=now).on_conflict_do_nothing(
        index_elements=["subscriber_id", "item_id"]))


def delivered_at(connection: Connection, subscriber_id: int, item_id: int) -> datetime | None:
    """When the digest that carried the item to the reader was accepted by the mail server;
    None when no sent digest did."""
    return connection.execute(select(func.max(OutboxMessage.sent_at)).join(
        DeliveryItem, DeliveryItem.outbox_id == OutboxMessage.id).where(
        DeliveryItem.subscriber_id == subscriber_id,
        DeliveryItem.item_id == item_id)).scalar_one_or_none()


def count(connection: Connection) -> int:
    """How many reader-item clicks are counted."""
    return int(connection.execute(select(func.count()).select_from(ItemClick)).scalar_one())


def of_reader(connection: Connection, subscriber_id: int) -> list[Opened]:
    """Every counted click of one reader, oldest first (their export)."""
    rows = connection.execute(
        select(ItemClick.item_id, Item.title, ItemClick.clicked_at)
        .outerjoin(Item, Item.id == ItemClick.item_id)
        .where(ItemClick.subscriber_id == subscriber_id).order_by(ItemClick.id))
    return [Opened(row.item_id, row.title, row.clicked_at) for row in rows]


def erase_for(connection: Connection, subscriber_id: int) -> None:
    """Delete every click of one reader (their erasure)."""
    connection.execute(delete(ItemClick).where(ItemClick.subscriber_id == subscriber_id))
