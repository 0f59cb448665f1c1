"""A source's health as people see it: failing, gone, a duplicate, or quietly stale (pure).

A source is *stale* when nothing new arrived for ``STALE_FACTOR`` times its usual gap between
items (and at least ``STALE_FLOOR``): one that stops publishing is as broken as one that errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from awareness.links import redact_url

STALE_FACTOR = 4
STALE_FLOOR = timedelta(days=14)
CADENCE_WINDOW = timedelta(weeks=12)  # long enough for monthly publishers


@dataclass(frozen=True)
class SourceRecord:
    """A source with everything a person needs to see whether it is healthy."""

    id: str
    name: str
    publisher: str
    url: str
    kind: str
    fetch_url: str | None
    duplicate_of: str | None
    enabled: bool
    state: str
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    next_check_at: datetime | None
    error_count: int
    last_error: str | None
    warnings: str | None
    items: int  # stored, baseline included
    recent_items: int  # new (non-baseline) items first seen within the cadence window
    newest_item_at: datetime | None


def is_stale(per_week: float, newest: datetime | None, now: datetime) -> bool:
    """No new item for STALE_FACTOR times the usual gap (at least STALE_FLOOR)."""
    if newest is None:
        return False  # never polled successfully: that shows as an error, not as staleness
    usual_gap = timedelta(weeks=1 / per_week) if per_week else STALE_FLOOR
    return now - newest > max(STALE_FLOOR, STALE_FACTOR * usual_gap)


def health_row(source: SourceRecord, now: datetime) -> dict[str, Any]:
    """The source as the JSON listing and the web table show it (credentials removed)."""
    per_week = round(source.recent_items / (CADENCE_WINDOW / timedelta(weeks=1)), 2)
    return {
        "id": source.id, "name": source.name, "publisher": source.publisher,
        "url": redact_url(source.url), "kind": source.kind,
        "fetch_url": redact_url(source.fetch_url) if source.fetch_url else None,
        "duplicate_of": source.duplicate_of, "enabled": source.enabled,
        "state": source.state if source.enabled else "disabled",
        "last_success_at": _iso(source.last_success_at),
        "last_attempt_at": _iso(source.last_attempt_at),
        "next_check_at": _iso(source.next_check_at), "error_count": source.error_count,
        "last_error": source.last_error, "warnings": source.warnings, "items": source.items,
        "items_per_week": per_week, "newest_item_at": _iso(source.newest_item_at),
        # Still polled (with back-off) until BROKEN_AFTER_FAILURES, but not working now.
        "failing": source.enabled and source.state == "active" and source.error_count > 0,
        "stale": source.enabled and source.state == "active" and is_stale(
            per_week, source.newest_item_at, now),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
