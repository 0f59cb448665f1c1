"""Matches as a librarian reviews them (core values, no I/O).

    DriverLinkView  a driver record linked to a match, with the link's kind and reason
    MatchView       a match as people see it: the item, the topic, why it matched, its drivers
    ReviewEntry     one decision in a match's review log: who, what, when, the log's note

Storage returns these; ``best_first`` is the order the review page and the CLI show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

DECISIONS = ("approved", "rejected")
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


@dataclass(frozen=True)
class ReviewEntry:
    """One decision in a match's review log. ``note`` is the review log's note: for
    librarians only, never in a digest (issue 12)."""

    librarian: str
    decision: str
    note: str
    decided_at: datetime

    def as_json(self) -> dict[str, object]:
        """JSON-ready (the time as ISO text)."""
        return {"librarian": self.librarian, "decision": self.decision, "note": self.note,
                "decided_at": self.decided_at.isoformat()}


def best_first(views: Iterable[MatchView]) -> list[MatchView]:
    """Highest score first, then the newest, then the oldest match."""
    return sorted(views, key=lambda v: (-v.score, -v.sort_date.timestamp(), v.id))
