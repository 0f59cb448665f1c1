"""Strategy precision per topic and per source (issue 17): read the decision counts
(storage), compute the figures (core ``awareness.precision``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from awareness.precision import Precision, precision_table
from awareness.service.context import Context
from awareness.storage import reports, reviews
from awareness.storage.db import current_revision, reading


@dataclass(frozen=True)
class PrecisionReport:
    """Precision per topic (topics in name order, then any no longer defined) and per source
    (the sources with decisions over 90 days, by name)."""

    topics: list[Precision]
    sources: list[Precision]

    @property
    def flagged(self) -> list[Precision]:
        """The topics below the threshold."""
        return [p for p in self.topics if p.flagged]


def precision(ctx: Context, now: datetime | None = None) -> PrecisionReport:
    """Precision over the 30 and 90 days before ``now`` (default: the service's clock)."""
    now = now or ctx.now()
    with reading(ctx.engine) as connection:
        return precision_in(ctx, connection, now)


def precision_if_stored(ctx: Context) -> PrecisionReport | None:
    """``precision``, or None before ``awareness init`` made the database (``topics list``
    reads only the topic files and worked without one)."""
    if current_revision(ctx.engine) is None:
        return None
    return precision(ctx)


def topic_precision(ctx: Context, now: datetime | None = None) -> list[Precision]:
    """``precision``'s topics alone (the try page's side panel shows no sources)."""
    now = now or ctx.now()
    with reading(ctx.engine) as connection:
        return _table(ctx, connection, now, "topic")


def precision_in(ctx: Context, connection: Connection, now: datetime) -> PrecisionReport:
    """``precision`` inside a transaction the caller holds (the impact report's)."""
    return PrecisionReport(topics=_table(ctx, connection, now, "topic"),
                           sources=[p for p in _table(ctx, connection, now, "source")
                                    if p.last_90.decided])


def _table(ctx: Context, connection: Connection, now: datetime, by: str) -> list[Precision]:
    """Precision per topic (all of them, by name) or per source (by name)."""
    policy = ctx.settings.reports
    last_30, last_90 = (reviews.decision_counts(connection, now - timedelta(days=days), by)
                        for days in (30, 90))
    if by == "topic":
        names = [(t.slug, t.name) for t in ctx.topics()]
    else:
        names = list(reports.source_names(connection).items())
    return precision_table(sorted(names, key=lambda n: n[1].casefold()), last_30, last_90,
                           threshold=policy.precision_threshold,
                           min_decisions=policy.precision_min_decisions)
