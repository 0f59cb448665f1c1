"""Librarians' decisions on matches (shell: SQL only).

A review row keeps who decided, what, when and the librarian's note for the review log, which
never leaves the service: no e-mail and no page outside ``/review`` shows it (issue 12). The
note for readers is the match's own (``storage.matches.set_reader_note``), as is the status
in force (``storage.matches.set_status``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select

from awareness.review import ReviewEntry
from awareness.storage.models import Review

_ADD = insert(Review)


def add_review(conn: Connection, match_id: int, *, librarian: str, decision: str, note: str,
               decided_at: datetime) -> None:
    """Record one decision on a match (approved, rejected, undone or withdrawn), with the
    review-log note."""
    conn.execute(_ADD, {"match_id": match_id, "librarian": librarian, "decision": decision,
                        "note": note, "decided_at": decided_at})


def history(conn: Connection, match_ids: Sequence[int]) -> dict[int, list[ReviewEntry]]:
    """Each match's review rows, oldest first (an empty list for a match never decided)."""
    found: dict[int, list[ReviewEntry]] = {match_id: [] for match_id in match_ids}
    if not found:
        return found
    rows = conn.execute(select(Review.match_id, Review.librarian, Review.decision, Review.note,
                               Review.decided_at)
                        .where(Review.match_id.in_(list(found)))
                        .order_by(Review.decided_at, Review.id))
    for row in rows:
        found[row.match_id].append(ReviewEntry(row.match_id, row.librarian, row.decision,
                                               row.note or "", row.decided_at))
    return found
