"""Librarians' decisions on matches (shell: SQL only).

A review row keeps who decided, what, when and the librarian's note for the review log, which
never leaves the service: no e-mail and no page outside ``/review`` shows it (issue 12). The
note for readers is the match's own (``storage.matches.set_reader_note``), as is the status
in force (``storage.matches.set_status``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from awareness.precision import Decisions
from awareness.review import ReviewEntry
from awareness.storage.models import Item, Match, Review

_ADD = insert(Review)


def add_review(conn: Connection, match_id: int, *, librarian: str, decision: str, note: str,
               decided_at: datetime) -> None:
    """Record one decision (approved or rejected) on a match, with the review-log note."""
    conn.execute(_ADD, {"match_id": match_id, "librarian": librarian, "decision": decision,
                        "note": note, "decided_at": decided_at})


def decision_counts(conn: Connection, since: datetime, by: str,
                    until: datetime | None = None) -> dict[str, Decisions]:
    """Approved and rejected matches per topic (``by="topic"``) or per source
    (``by="source"``), among the matches a librarian decided since ``since`` (and before
    ``until``). Each match counts once, under the decision in force (a match decided twice
    counts as its last)."""
    group = Match.topic_slug if by == "topic" else Item.source_id
    window = [Review.decided_at >= since] + ([Review.decided_at < until] if until else [])
    decided = select(Review.match_id).where(*window).distinct().subquery()
    rows = conn.execute(
        select(group.label("key"), Match.status, func.count().label("n"))
        .select_from(Match)
        .join(decided, decided.c.match_id == Match.id)
        .join(Item, Item.id == Match.item_id)
        .where(Match.status.in_(("approved", "rejected")))
        .group_by(group, Match.status)).all()
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row.key, {})[row.status] = int(row.n)
    return {key: Decisions(approved=c.get("approved", 0), rejected=c.get("rejected", 0))
            for key, c in counts.items()}


def log_of(conn: Connection, match_id: int) -> list[ReviewEntry]:
    """The match's review log, oldest decision first."""
    rows = conn.execute(select(Review.librarian, Review.decision, Review.note,
                               Review.decided_at)
                        .where(Review.match_id == match_id).order_by(Review.id))
    return [ReviewEntry(row.librarian, row.decision, row.note or "", row.decided_at)
            for row in rows]
