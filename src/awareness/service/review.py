"""The librarian's review of matches: list what waits, approve or reject it.

A decision carries two notes that must not be confused (issue 12): the *review-log* note
(``note``) is kept with the review row for librarians and never leaves the service; the note
*for readers* (``reader_note``) is the match's, and is the only librarian text a digest shows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from awareness.errors import AwarenessError, NotFound
from awareness.review import (
    DECISIONS,
    READER_NOTE_LIMIT,
    REVIEWED_STATUSES,
    MatchView,
    ReviewEntry,
    best_first,
)
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


def newest_matches(ctx: Context, *, status: str | None = None, topic: str | None = None,
                   limit: int = 50, offset: int = 0) -> list[MatchView]:
    """Matches newest first, from the ``offset``-th: an order that stays put while
    librarians decide, for reading page by page (the JSON API)."""
    with reading(ctx.engine) as conn:
        return matches.matches_for_review(conn, status=status, topic=topic, limit=limit,
                                          offset=offset)


def match_with_log(ctx: Context, match_id: int) -> tuple[MatchView, list[ReviewEntry]]:
    """One match and its review log (who decided what, when, with the log's note)."""
    with reading(ctx.engine) as conn:
        view = matches.match_view(conn, match_id)
        log = reviews.log_of(conn, match_id)
    if view is None:
        raise NotFound(f"no match {match_id}")
    return view, log


def decide(ctx: Context, match_id: int, decision: str, *, librarian: str, note: str = "",
           reader_note: str | None = None) -> MatchView:
    """Approve or reject a match, with a note for the review log (``note``, never sent) and
    a note for readers (``reader_note``, shown in digests; None leaves it as it is).

    Deciding twice the same way is a no-op, unless the second decision changes the note for
    readers or brings a note for the log: that is recorded like a decision, so the log says
    who changed what."""
    if decision not in DECISIONS:
        raise AwarenessError(f"unknown decision {decision!r}: use approve or reject")
    if reader_note is not None and len(reader_note.strip()) > READER_NOTE_LIMIT:
        raise AwarenessError(f"the note for readers is {len(reader_note.strip())} characters; "
                             f"shorten it to {READER_NOTE_LIMIT} or fewer")
    reader_note = None if reader_note is None else reader_note.strip()
    with writing(ctx.engine) as conn:
        _record(conn, match_id, decision, librarian=librarian, note=note,
                reader_note=reader_note, now=ctx.now())
    with reading(ctx.engine) as conn:
        view = matches.match_view(conn, match_id)
    if view is None:  # deleted since the decision (awareness items delete)
        raise NotFound(f"no match {match_id}")
    return view


def _record(conn: Connection, match_id: int, decision: str, *, librarian: str, note: str,
            reader_note: str | None, now: datetime) -> None:
    status = matches.match_status(conn, match_id)
    if status is None:
        raise NotFound(f"no match {match_id}; `awareness review list` shows pending matches")
    if reader_note is not None and reader_note == matches.reader_note(conn, match_id):
        reader_note = None  # unchanged
    if status == decision and reader_note is None and not note:
        return
    if status not in REVIEWED_STATUSES:
        raise AwarenessError(f"match {match_id} needs no review (its topic has review = none)")
    if matches.was_sent(conn, match_id):
        raise AwarenessError(f"match {match_id} has already been sent; it cannot change")
    matches.set_status(conn, match_id, decision)
    if reader_note is not None:
        matches.set_reader_note(conn, match_id, reader_note)
    reviews.add_review(conn, match_id, librarian=librarian, decision=decision, note=note,
                       decided_at=now)
