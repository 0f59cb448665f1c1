"""The driver links of one match as librarians curate them (shell: SQL only).

The linker suggests links (``storage.matches`` stores them); a librarian confirms or removes
each, or adds one to any record. Removed rows are kept: ``storage.matches`` never suggests a
removed link again for the same item (issue 14).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from awareness.review import MatchLink
from awareness.storage.models import DriverRecordRow, MatchDriver

_LINKS = (
    select(DriverRecordRow.slug, DriverRecordRow.title,
           func.coalesce(DriverRecordRow.status, "active").label("record_status"),
           MatchDriver.kind, MatchDriver.reason, MatchDriver.state, MatchDriver.changed_by,
           MatchDriver.changed_at, MatchDriver.driver_id)
    .join(DriverRecordRow, DriverRecordRow.id == MatchDriver.driver_id))


def links_of(conn: Connection, match_id: int) -> list[MatchLink]:
    """Every link of the match, removed ones too, best suggestion first."""
    rows = conn.execute(_LINKS.where(MatchDriver.match_id == match_id)
                        .order_by(MatchDriver.score.desc(), MatchDriver.id))
    return [MatchLink(r.slug, r.title, r.record_status, r.kind, r.reason or "", r.state,
                      r.changed_by, r.changed_at) for r in rows]


def set_state(conn: Connection, match_id: int, driver_id: int, state: str, *, by: str,
              now: datetime) -> bool:
    """Give the match's link to the record ``state``; False when there is no such link."""
    done = conn.execute(update(MatchDriver)
                        .where(MatchDriver.match_id == match_id,
                               MatchDriver.driver_id == driver_id)
                        .values(state=state, changed_by=by, changed_at=now))
    return bool(done.rowcount)


def add(conn: Connection, match_id: int, driver_id: int, *, by: str, now: datetime,
        reason: str = "added by a librarian") -> None:
    """Link the match to the record as a librarian's addition (or put a removed link back)."""
    if not set_state(conn, match_id, driver_id, "added", by=by, now=now):
        conn.execute(insert(MatchDriver).values(
            match_id=match_id, driver_id=driver_id, kind="related", score=0.0,
            reason=reason, state="added", changed_by=by, changed_at=now))
