"""Totals for /metrics (issue 15): small grouped counts, read when Prometheus scrapes.

Each statement reads an index or a small table: sources (one row per source), pending
matches (``matches.status`` is indexed) and the unsent outbox rows (``next_attempt_at`` is
set only on pending and sending rows, and indexed). Failed rows are counted by status, which
scans the outbox; docs/scaling.md says what that costs at a region's size.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from awareness.model import ServiceCounts
from awareness.storage.models import Match, OutboxMessage, Source

_SOURCES = (select(Source.state, func.count()).where(Source.enabled.is_(True))
            .group_by(Source.state))
_REVIEW_QUEUE = select(func.count()).select_from(Match).where(Match.status == "pending")
_UNSENT = (select(OutboxMessage.status, func.count(), func.min(OutboxMessage.created_at))
           .where(OutboxMessage.next_attempt_at.is_not(None))
           .group_by(OutboxMessage.status))
_FAILED = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "failed")


def counts(conn: Connection) -> ServiceCounts:
    """The totals /metrics reports."""
    unsent = conn.execute(_UNSENT).all()
    outbox = {"pending": 0, "sending": 0}
    outbox.update({status: int(n) for status, n, _ in unsent})
    outbox["failed"] = int(conn.execute(_FAILED).scalar_one())
    oldest = [first for _, _, first in unsent if first is not None]
    return ServiceCounts(
        sources={state: int(n) for state, n in conn.execute(_SOURCES)},
        review_queue=int(conn.execute(_REVIEW_QUEUE).scalar_one()),
        outbox=outbox, oldest_unsent=min(oldest) if oldest else None)
