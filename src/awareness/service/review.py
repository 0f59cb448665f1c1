"""The librarian's review of matches: list what waits, approve or reject it.

A story (the same document from several publishers) is reviewed once: deciding its match
decides the matches of its siblings in the same topic that waited with it (issue 14). A
decision can be undone, and a match sent without review withdrawn, until a digest holds it.

A decision carries two notes that must not be confused (issue 12): the *review-log* note
(``note``) is kept with the review row for librarians and never leaves the service; the note
*for readers* (``reader_note``) is the match's, and is the only librarian text a digest shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from awareness.errors import AwarenessError, NotFound
from awareness.review import (
    DECISIONS,
    PAGE_SIZE,
    READER_NOTE_LIMIT,
    REVIEWED_STATUSES,
    MatchPage,
    MatchView,
    ReviewEntry,
    ReviewPage,
    best_first,
    page_count,
    restored_status,
    status_label,
)
from awareness.service.context import Context
from awareness.storage import match_links, matches, review_queue, reviews
from awareness.storage.db import reading, writing


def list_matches(ctx: Context, *, status: str | None = None, topic: str | None = None,
                 limit: int = 200) -> list[MatchView]:
    """Matches, best first then newest; ``status`` filters (pending, approved, rejected, auto).
    The ``limit`` newest matches are the ones ranked."""
    with reading(ctx.engine) as conn:
        return best_first(matches.matches_for_review(conn, status=status, topic=topic,
                                                     limit=limit))


def review_page(ctx: Context, *, status: str, topic: str | None = None,
                page: int = 1) -> ReviewPage:
    """One page (``PAGE_SIZE`` stories, best first) of the tab ``status``, with the siblings
    and history of each match shown and the count of every tab."""
    with reading(ctx.engine) as conn:
        counts = review_queue.counts(conn, topic=topic)
        pages = page_count(counts.get(status, 0))
        page = min(max(page, 1), pages)
        shown = review_queue.queue_page(conn, status=status, topic=topic,
                                        offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        ids = [match.id for match in shown]
        return ReviewPage(status, shown, review_queue.siblings(conn, ids),
                          reviews.history(conn, ids), counts, page, pages,
                          frozenset(matches.sent_of(conn, ids)))


def match_history(ctx: Context, match_id: int) -> MatchPage:
    """One match, its history oldest first (decisions and link changes), every link it has
    (removed ones too), and whether it was sent. Librarians only: the history holds the
    review log."""
    with reading(ctx.engine) as conn:
        view = matches.match_view(conn, match_id)
        if view is None:
            raise NotFound(f"no match {match_id}")
        links = match_links.links_of(conn, match_id)
        history = reviews.history(conn, [match_id])[match_id]
        sent = matches.was_sent(conn, match_id)
    changes = [entry for link in links if (entry := link.as_history(match_id)) is not None]
    return MatchPage(view, sorted([*history, *changes], key=lambda e: e.decided_at), links,
                     sent)


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
        log = reviews.history(conn, [match_id])[match_id]
    if view is None:
        raise NotFound(f"no match {match_id}")
    return view, log


@dataclass(frozen=True)
class Decided:
    """A match after a decision, and whether the decision recorded anything: the same
    decision again, with nothing new for the log or the readers, records nothing."""

    view: MatchView
    recorded: bool


def decide(ctx: Context, match_id: int, decision: str, *, librarian: str, note: str = "",
           reader_note: str | None = None) -> Decided:
    """Approve or reject a match, with a note for the review log (``note``, never sent) and
    a note for readers (``reader_note``, shown in digests; None leaves it as it is).

    Deciding twice the same way is a no-op, unless the second decision changes the note for
    readers or brings a note for the log: that is recorded like a decision, so the log says
    who changed what."""
    if decision not in DECISIONS:
        raise AwarenessError(f"unknown decision {decision!r}: use approved or rejected")
    if reader_note is not None and len(reader_note.strip()) > READER_NOTE_LIMIT:
        raise AwarenessError(f"the note for readers is {len(reader_note.strip())} characters; "
                             f"shorten it to {READER_NOTE_LIMIT} or fewer")
    reader_note = None if reader_note is None else reader_note.strip()
    with writing(ctx.engine) as conn:
        recorded = _with_siblings(conn, match_id, decision, librarian=librarian, note=note,
                                  reader_note=reader_note, now=ctx.now())
    with reading(ctx.engine) as conn:
        view = matches.match_view(conn, match_id)
    if view is None:  # deleted since the decision (awareness items delete)
        raise NotFound(f"no match {match_id}")
    return Decided(view, recorded)


def decide_many(ctx: Context, match_ids: list[int], decision: str, *,
                librarian: str) -> int:
    """Approve or reject several matches (and their waiting siblings) at once, in one
    transaction: all of them or, when one cannot change, none. Returns how many stories."""
    if decision not in DECISIONS:
        raise AwarenessError(f"unknown decision {decision!r}: use approved or rejected")
    with writing(ctx.engine) as conn:
        for match_id in dict.fromkeys(match_ids):
            _with_siblings(conn, match_id, decision, librarian=librarian, note="",
                           reader_note=None, now=ctx.now())
    return len(set(match_ids))


def undo(ctx: Context, match_id: int, *, librarian: str, note: str = "") -> MatchView:
    """Take back a decision or a withdrawal until a digest holds the match: it waits for
    review again (or, withdrawn, goes out without review again). The undo is recorded."""
    with writing(ctx.engine) as conn:
        status = matches.match_status(conn, match_id)
        if status is None:
            raise NotFound(f"no match {match_id}")
        if status not in DECISIONS:
            raise AwarenessError(f"match {match_id} is {status_label(status).lower()}: there is "
                                 "no decision to undo")
        _refuse_if_sent(conn, match_id)
        back = restored_status(reviews.history(conn, [match_id])[match_id])
        matches.set_status(conn, match_id, back)
        reviews.add_review(conn, match_id, librarian=librarian, decision="undone", note=note,
                           decided_at=ctx.now())
    return _view(ctx, match_id)


def withdraw(ctx: Context, match_id: int, *, librarian: str, note: str = "") -> MatchView:
    """Stop a match that was going out without review (its topic has review = none) before
    a digest holds it. It is rejected; the withdrawal is recorded and can be undone."""
    with writing(ctx.engine) as conn:
        status = matches.match_status(conn, match_id)
        if status is None:
            raise NotFound(f"no match {match_id}")
        if status != "auto":
            raise AwarenessError(f"match {match_id} is {status_label(status).lower()}, not sent "
                                 "without review; reject it instead")
        _refuse_if_sent(conn, match_id)
        matches.set_status(conn, match_id, "rejected")
        reviews.add_review(conn, match_id, librarian=librarian, decision="withdrawn",
                           note=note, decided_at=ctx.now())
    return _view(ctx, match_id)


def _view(ctx: Context, match_id: int) -> MatchView:
    with reading(ctx.engine) as conn:
        view = matches.match_view(conn, match_id)
    if view is None:
        raise NotFound(f"no match {match_id}")
    return view


def _refuse_if_sent(conn: Connection, match_id: int) -> None:
    if matches.was_sent(conn, match_id):
        raise AwarenessError(f"match {match_id} has already been sent; it cannot change")


def _with_siblings(conn: Connection, match_id: int, decision: str, *, librarian: str,
                   note: str, reader_note: str | None, now: datetime) -> bool:
    """Decide the match, then its unsent siblings that had the same status; whether the
    match itself had anything recorded."""
    status = matches.match_status(conn, match_id)
    followers = (review_queue.unsent_siblings(conn, match_id, status)
                 if status in REVIEWED_STATUSES and status != decision else [])
    recorded = _record(conn, match_id, decision, librarian=librarian, note=note,
                       reader_note=reader_note, now=now)
    for one in followers:
        _record(conn, one, decision, librarian=librarian, note=note,
                reader_note=reader_note, now=now)
    return recorded


def _record(conn: Connection, match_id: int, decision: str, *, librarian: str, note: str,
            reader_note: str | None, now: datetime) -> bool:
    status = matches.match_status(conn, match_id)
    if status is None:
        raise NotFound(f"no match {match_id}; `awareness review list` shows pending matches")
    if reader_note is not None and reader_note == matches.reader_note(conn, match_id):
        reader_note = None  # unchanged
    if status == decision and reader_note is None and not note:
        return False
    if status not in REVIEWED_STATUSES:
        raise AwarenessError(f"match {match_id} needs no review (its topic has review = none)")
    _refuse_if_sent(conn, match_id)
    matches.set_status(conn, match_id, decision)
    if reader_note is not None:
        matches.set_reader_note(conn, match_id, reader_note)
    reviews.add_review(conn, match_id, librarian=librarian, decision=decision, note=note,
                       decided_at=now)
    return True
