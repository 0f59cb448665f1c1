"""Read-only listings for the CLI's ``--json`` and the web pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from awareness.service.context import Context
from awareness.sources.fetch import redact_url
from awareness.storage.models import Item, Source


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# A source is stale when nothing new arrived for this many times its usual gap between items
# (and at least STALE_FLOOR): one that stops publishing is as broken as one that errors.
STALE_FACTOR = 4
STALE_FLOOR = timedelta(days=14)
CADENCE_WINDOW = timedelta(weeks=12)  # long enough for monthly publishers


def _cadence(session: Session, now: datetime) -> dict[str, tuple[float, datetime | None]]:
    """Per source: new (non-baseline) items per week over the window, and the newest one."""
    since = now - CADENCE_WINDOW
    rows = session.execute(
        select(Item.source_id,
               func.count(Item.id).filter(Item.first_seen_at >= since,
                                          Item.baseline.is_(False)),
               func.max(Item.first_seen_at))
        .group_by(Item.source_id)).all()
    weeks = CADENCE_WINDOW / timedelta(weeks=1)
    return {sid: (round(recent / weeks, 2), newest) for sid, recent, newest in rows}


def is_stale(per_week: float, newest: datetime | None, now: datetime) -> bool:
    """No new item for STALE_FACTOR times the usual gap (at least STALE_FLOOR)."""
    if newest is None:
        return False  # never polled successfully: that shows as an error, not as staleness
    usual_gap = timedelta(weeks=1 / per_week) if per_week else STALE_FLOOR
    return now - newest > max(STALE_FLOOR, STALE_FACTOR * usual_gap)


def source_health(ctx: Context) -> list[dict[str, Any]]:
    """Every source with its fetch state and cadence: what a person needs to see that one is
    failing, or has quietly stopped publishing."""
    now = ctx.now()
    with ctx.sessions() as session:
        counts = {source_id: n for source_id, n in session.execute(
            select(Item.source_id, func.count(Item.id)).group_by(Item.source_id))}
        cadence = _cadence(session, now)
        return [{
            "id": s.id, "name": s.name, "publisher": s.publisher, "url": redact_url(s.url),
            "kind": s.kind, "fetch_url": redact_url(s.fetch_url) if s.fetch_url else None,
            "duplicate_of": s.duplicate_of,
            "enabled": s.enabled, "state": s.state if s.enabled else "disabled",
            "last_success_at": _iso(s.last_success_at), "last_attempt_at": _iso(s.last_attempt_at),
            "next_check_at": _iso(s.next_check_at), "error_count": s.error_count,
            "last_error": s.last_error, "warnings": s.warnings, "items": counts.get(s.id, 0),
            "items_per_week": cadence.get(s.id, (0.0, None))[0],
            "newest_item_at": _iso(cadence.get(s.id, (0.0, None))[1]),
            "stale": s.enabled and s.state == "active" and is_stale(
                *cadence.get(s.id, (0.0, None)), now),
        } for s in session.scalars(select(Source).order_by(Source.id))]


def list_items(ctx: Context, *, source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest items first (by first-seen time: what arrived most recently)."""
    query = select(Item).order_by(Item.first_seen_at.desc(), Item.id.desc()).limit(limit)
    if source:
        query = query.where(Item.source_id == source)
    with ctx.sessions() as session:
        return [{
            "id": i.id, "source_id": i.source_id, "key": i.key, "title": i.title, "link": i.link,
            "summary": i.summary_text, "categories": list(i.categories or []),
            "published_at": _iso(i.published_at), "first_seen_at": _iso(i.first_seen_at),
            "baseline": i.baseline, "story_id": i.story_id or i.id, "doi": i.doi,
        } for i in session.scalars(query)]
