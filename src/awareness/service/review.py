"""The librarian's review of matches: list what waits, approve or reject it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from awareness.errors import AwarenessError, NotFound
from awareness.review import DECISIONS, REVIEWED_STATUSES, MatchView, best_first
from awareness.service.context import Context
from awareness.storage import matches, reviews
from awareness.storage.db import reading, writing


def list_matches(ctx: Context, *, status: str | None = None, topic: str | None = None,
                 limit: int = 200) -> list[MatchView]:
    """Matches, best first then newest; ``status`` filters (pending, approved, rejected, auto).
    The ``limit`` newest matches are the ones ranked."""
    with reading(ctx.engine) as conn:
        return best_first(matches.matches_for_review(conn, status=status, topic=topic,
                                                     limit=limit))


def decide(ctx: Context, match_id: int, decision: str, *, librarian: str,
           note: str = "") -> MatchView:
    """Approve or reject a pending match; deciding twice the same way is a no-op."""
    if decision not in DECISIONS:
        raise AwarenessError(f"unknown decision {decision!r}: use approve or reject")
    with writing(ctx.engine) as conn:
        _record(conn, match_id, decision, librarian=librarian, note=note, now=ctx.now())
    with reading(ctx.engine) as conn:
        view = matches.match_view(conn, match_id)
    if view is None:  # deleted since the decision (awareness items delete)
        raise NotFound(f"no match {match_id}")
    return view


def _record(conn: Connection, match_id: int, decision: str, *, librarian: str, note: str,
            now: datetime) -> None:
    status = matches.match_status(conn, match_id)
    if status is None:
        raise NotFound(f"no match {match_id}; `awareness review list` shows pending matches")
    if status == decision:
        return
    if status not in REVIEWED_STATUSES:
        raise AwarenessError(f"match {match_id} needs no review (its topic has review = none)")
    if matches.was_sent(conn, match_id):
        raise AwarenessError(f"match {match_id} has already been sent; it cannot change")
    matches.set_status(conn, match_id, decision)
    reviews.add_review(conn, match_id, librarian=librarian, decision=decision, note=note,
                       decided_at=now)
