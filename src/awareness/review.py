"""Matches as a librarian reviews them (core values, no I/O).

    DriverLinkView  a driver record linked to a match, with the link's kind and reason
    MatchView       a match as people see it: the item, the topic, why it matched, its drivers
    Sibling         the same document from another publisher, matched by the same topic
    ReviewEntry     one line of a match's history: who decided what, when, with which note
    MatchLink       a driver link of a match as a librarian curates it: suggested, confirmed,
                    removed or added, and by whom
    ReviewPage      one page of one tab of the review queue, with every tab's count

Storage returns these; ``best_first`` is the order the review page and the CLI show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

DECISIONS = ("approved", "rejected")
# What a review row can say: a decision, an undo (back to waiting) or the withdrawal of a
# match that was going out without review.
HISTORY_ACTIONS = (*DECISIONS, "undone", "withdrawn")
# A match's status in plain words (issue 14: "Auto" was jargon), in this order the review
# page's tabs. Every page and every command-line table shows these; only JSON and the
# commands' options keep the stored values, which scripts use.
STATUS_LABELS = {"pending": "Waiting", "approved": "Approved", "rejected": "Rejected",
                 "auto": "Sent without review"}
PAGE_SIZE = 50
# A match with one of these statuses waits for, or has had, a librarian's decision; "auto"
# matches (topics with review = none) never do.
REVIEWED_STATUSES = ("pending", *DECISIONS)
READER_NOTE_LIMIT = 500  # characters: a digest shows the note for readers whole


@dataclass(frozen=True)
class DriverLinkView:
    """A driver record linked to a match."""

    slug: str
    title: str
    impact: str
    kind: str
    score: float
    reason: str


@dataclass(frozen=True)
class MatchView:
    """A match as people see it: the item, the topic, why it matched, its drivers."""

    id: int
    topic_slug: str
    status: str
    score: float
    hits: list[dict[str, str]]
    item_id: int
    title: str
    link: str | None
    summary: str
    publisher: str
    source_id: str
    published_at: datetime | None
    first_seen_at: datetime
    drivers: list[DriverLinkView]
    reader_note: str = ""  # what the digest shows readers; never the review-log note

    @property
    def sort_date(self) -> datetime:
        return self.published_at or self.first_seen_at

    def as_json(self) -> dict[str, object]:
        """Every field as JSON-ready values (times as ISO text)."""
        data = dict(self.__dict__)
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        data["first_seen_at"] = self.first_seen_at.isoformat()
        data["drivers"] = [d.__dict__ for d in self.drivers]
        return data


def best_first(views: Iterable[MatchView]) -> list[MatchView]:
    """Highest score first, then the newest, then the oldest match."""
    return sorted(views, key=lambda v: (-v.score, -v.sort_date.timestamp(), v.id))


@dataclass(frozen=True)
class Sibling:
    """The same document (one story) from another publisher, matched by the same topic."""

    match_id: int
    status: str
    title: str
    link: str | None
    publisher: str


@dataclass(frozen=True)
class ReviewEntry:
    """One line of a match's history: who did what, when, and the review-log note
    (librarians only: never shown to staff or visitors)."""

    match_id: int
    librarian: str
    decision: str
    note: str
    decided_at: datetime

    def as_json(self) -> dict[str, object]:
        """JSON-ready (the time as ISO text)."""
        return {"librarian": self.librarian, "decision": self.decision, "note": self.note,
                "decided_at": self.decided_at.isoformat()}


LINK_STATES = ("suggested", "confirmed", "removed", "added")


@dataclass(frozen=True)
class MatchLink:
    """A driver link of a match, with its state and who last changed it (librarians only)."""

    slug: str
    title: str
    record_status: str  # active | draft | deleted
    kind: str
    reason: str
    state: str
    changed_by: str | None
    changed_at: datetime | None

    def as_history(self, match_id: int) -> ReviewEntry | None:
        """The link's last change as a line of the match's history (None for a suggestion)."""
        if self.changed_by is None or self.changed_at is None:
            return None
        return ReviewEntry(match_id, self.changed_by, f"link {self.state}: {self.title}", "",
                           self.changed_at)


@dataclass(frozen=True)
class MatchPage:
    """One match as its own page shows it: the match, its history oldest first (decisions
    and link changes), every link (removed ones too), and whether a digest holds it."""

    match: MatchView
    history: list[ReviewEntry]
    links: list[MatchLink]
    sent: bool


@dataclass(frozen=True)
class ReviewPage:
    """One page of one tab: the matches (one per story), their siblings, each match's
    history (newest last), every tab's count, and where this page is."""

    status: str
    matches: list[MatchView]
    siblings: dict[int, list[Sibling]]
    history: dict[int, list[ReviewEntry]]
    counts: dict[str, int]
    page: int
    pages: int
    sent: frozenset[int] = frozenset()  # shown matches a digest holds: they cannot change

    def last_decision(self, match_id: int) -> ReviewEntry | None:
        """The newest entry of the match's history, if it has one."""
        entries = self.history.get(match_id) or []
        return entries[-1] if entries else None


def status_label(status: str) -> str:
    """A match's status as people read it ("Sent without review" for ``auto``)."""
    return STATUS_LABELS.get(status, status)


def restored_status(history: Iterable[ReviewEntry]) -> str:
    """The status an undo gives back: "auto" when the decision undone was the withdrawal of
    a match sent without review, else "pending" (waiting for a librarian again)."""
    decided = [e for e in history if e.decision != "undone"]
    return "auto" if decided and decided[-1].decision == "withdrawn" else "pending"


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    """How many pages ``total`` rows fill, at least one."""
    return max(1, -(-total // size))
