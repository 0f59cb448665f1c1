"""The figures of the impact report (storage: all their SQL; issue 17). Each function
counts one thing over a time range, [start, end), and returns plain counts."""

from __future__ import annotations

from sqlalchemy import Connection, select

from awareness.storage.models import Source


def source_names(conn: Connection) -> dict[str, str]:
    """Every source's name by id."""
    return {row.id: row.name for row in conn.execute(select(Source.id, Source.name))}
