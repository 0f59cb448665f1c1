"""Read-only listings for the CLI's ``--json`` and the web pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from awareness.service.context import Context
from awareness.storage.models import Item, Source


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def source_health(ctx: Context) -> list[dict[str, Any]]:
    """Every source with its fetch state: what a person needs to see that one is failing."""
    with ctx.sessions() as session:
        counts = {source_id: n for source_id, n in session.execute(
            select(Item.source_id, func.count(Item.id)).group_by(Item.source_id))}
        return [{
            "id": s.id, "name": s.name, "publisher": s.publisher, "url": s.url, "kind": s.kind,
            "enabled": s.enabled, "state": s.state if s.enabled else "disabled",
            "last_success_at": _iso(s.last_success_at), "last_attempt_at": _iso(s.last_attempt_at),
            "next_check_at": _iso(s.next_check_at), "error_count": s.error_count,
            "last_error": s.last_error, "warnings": s.warnings, "items": counts.get(s.id, 0),
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
            "baseline": i.baseline,
        } for i in session.scalars(query)]
