"""What the public catalogue counts (storage: its SQL; issue 12)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select

from awareness.catalogue import LATEST, LatestItem, TopicActivity
from awareness.storage.items import NEWEST_FIRST
from awareness.storage.models import Item, Match, Source

_TO_READERS = ("approved", "auto")


def activity(connection: Connection, slugs: Sequence[str],
             since: datetime) -> dict[str, TopicActivity]:
    """Per topic: its matches that went to readers since ``since``, and the latest ones,
    newest published first (``items.NEWEST_FIRST``, as the items page lists)."""
    counts = dict(connection.execute(
        select(Match.topic_slug, func.count()).join(Item, Item.id == Match.item_id)
        .where(Match.topic_slug.in_(slugs), Match.status.in_(_TO_READERS),
               Item.first_seen_at >= since)
        .group_by(Match.topic_slug)).all())
    found: dict[str, TopicActivity] = {}
    for slug in slugs:
        rows = connection.execute(
            select(Item.title, Item.link, Source.publisher, Item.published_at,
                   Item.first_seen_at)
            .join(Match, Match.item_id == Item.id).join(Source, Source.id == Item.source_id)
            .where(Match.topic_slug == slug, Match.status.in_(_TO_READERS))
            .order_by(*NEWEST_FIRST).limit(LATEST)).all()
        found[slug] = TopicActivity(int(counts.get(slug, 0)), tuple(
            LatestItem(title, link, publisher, published or seen)
            for title, link, publisher, published, seen in rows))
    return found
