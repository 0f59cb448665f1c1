"""Read-only listings for the CLI's ``--json`` and the web pages."""

from __future__ import annotations

from typing import Any

from awareness.service.context import Context
from awareness.sources.health import CADENCE_WINDOW, health_row
from awareness.storage import items, sources
from awareness.storage.db import reading


def source_health(ctx: Context) -> list[dict[str, Any]]:
    """Every source with its fetch state and cadence: what a person needs to see that one is
    failing, or has quietly stopped publishing."""
    now = ctx.now()
    with reading(ctx.engine) as conn:
        records = sources.records(conn, recent_since=now - CADENCE_WINDOW)
    return [health_row(record, now) for record in records]


def list_items(ctx: Context, *, source: str | None = None, limit: int | None = 50,
               offset: int = 0) -> list[dict[str, Any]]:
    """Newest items first (by publication date, else first-seen time), from the
    ``offset``-th; at most ``limit`` (None: all)."""
    with reading(ctx.engine) as conn:
        return [item.as_json() for item in items.newest(conn, source=source, limit=limit,
                                                         offset=offset)]
