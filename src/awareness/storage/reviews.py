"""Librarians' decisions on matches (shell: SQL only).

A review row keeps who decided, what, when and the librarian's note for the review log, which
never leaves the service: no e-mail and no page outside ``/review`` shows it (issue 12). The
note for readers is the match's own (``storage.matches.set_reader_note``), as is the status
in force (``storage.matches.set_status``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert

from awareness.storage.models import Review

_ADD = insert(Review)


def add_review(conn: Connection, match_id: int, *, librarian: str, decision: str, note: str,
               decided_at: datetime) -> None:
    """Record one decision (approved or rejected) on a match, with the review-log note."""
    conn.execute(_ADD, {"match_id": match_id, "librarian": librarian, "decision": decision,
                        "note": note, "decided_at": decided_at})
