"""The driver records table."""

from __future__ import annotations

from sqlalchemy import Connection, select

from awareness.model import DriverRecord
from awareness.storage.models import DriverRecordRow

_RECORDS = select(DriverRecordRow.kind, DriverRecordRow.slug, DriverRecordRow.title,
                  DriverRecordRow.source, DriverRecordRow.link, DriverRecordRow.impact,
                  DriverRecordRow.summary, DriverRecordRow.tags, DriverRecordRow.fields)


def all_records(conn: Connection) -> list[DriverRecord]:
    """Every stored record as the pure value the linker and the exporter take."""
    return [DriverRecord(kind=row.kind, slug=row.slug, title=row.title, source=row.source,
                         link=row.link, impact=row.impact, summary=row.summary,
                         tags=tuple(row.tags or ()), fields=dict(row.fields or {}))
            for row in conn.execute(_RECORDS.order_by(DriverRecordRow.id))]
