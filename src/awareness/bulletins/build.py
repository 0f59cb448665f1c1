"""An issue of a bulletin: drafting it from approved matches, editing it, reading it (pure).

An issue holds *entries*: an item in a section at a position, with the note readers see.
Drafting adds the approved matches of the bulletin's topics that no earlier issue carried,
best first (score, then newest), each story once (the same report from several publishers
is one entry, "also published by" the others), each in the first section that names its
topic. An entry keeps its section, so an editor can move it to another (``moved_to``). A
draft is drafted again as new matches are approved; what an editor removed stays
removed, because a removed entry is kept (marked) and its story counts as present.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from awareness.bulletins.config import Section
from awareness.digests.build import Candidate, DigestDriver

STATUSES = ("draft", "approved", "sent")
DIRECTIONS = ("up", "down")


@dataclass(frozen=True)
class NewEntry:
    """An entry drafting adds: the item, the match it came from, where it goes."""

    item_id: int
    match_id: int | None
    section: str
    position: int
    note: str


@dataclass(frozen=True)
class Placed:
    """Where an entry of an issue is (what reordering needs)."""

    entry_id: int
    section: str
    position: int
    removed: bool = False


@dataclass(frozen=True)
class IssueEntry:
    """One item of an issue as readers see it."""

    entry_id: int
    item_id: int
    match_id: int | None
    section: str
    position: int
    title: str
    link: str | None
    publisher: str
    published: datetime | None
    summary: str
    note: str
    story: int
    removed: bool = False
    also_published_by: tuple[str, ...] = ()
    drivers: tuple[DigestDriver, ...] = ()
    topic: str = ""  # the topic of the match it came from ("" when added by hand)


@dataclass(frozen=True)
class Spotlight:
    """The policy spotlight: a driver record, its summary and what it means for libraries."""

    slug: str
    title: str
    summary: str
    impact: str
    url: str


@dataclass(frozen=True)
class Issue:
    """A numbered issue of a bulletin and everything an editor or reader sees of it."""

    id: int
    bulletin: str
    number: int
    status: str
    covers_from: datetime
    due_at: datetime
    created_at: datetime
    intro: str = ""
    spotlight: Spotlight | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    sent_at: datetime | None = None
    held_at: datetime | None = None
    corrected_at: datetime | None = None
    correction: str = ""
    entries: tuple[IssueEntry, ...] = ()

    @property
    def shown(self) -> tuple[IssueEntry, ...]:
        """The entries that are not removed."""
        return tuple(e for e in self.entries if not e.removed)

    @property
    def updated_at(self) -> datetime:
        """When readers last saw it change: its correction, else when it was sent."""
        return self.corrected_at or self.sent_at or self.created_at


def issue_date(issue: Issue, now: datetime) -> datetime:
    """The moment readers know an issue by: when it went out, which is the date its page, the
    archive and the feed give it; one sent early says the day it came, not its slot. For an
    issue not sent yet (a preview, a test copy), when it will go: its slot, or ``now`` once
    that has passed (a held issue goes at the next pass after it is approved)."""
    if issue.sent_at is not None:
        return issue.sent_at
    return max(issue.due_at, now)


@dataclass(frozen=True)
class IssueSection:
    """A section of an issue with its entries in order."""

    title: str
    entries: tuple[IssueEntry, ...]


def sections_of(issue: Issue, sections: Sequence[Section]) -> tuple[IssueSection, ...]:
    """The issue's shown entries grouped by section: the bulletin's sections in file order,
    then any section no longer in the file (an edited file never hides an entry); empty
    sections left out."""
    order = [s.title for s in sections]
    found: dict[str, list[IssueEntry]] = {}
    for entry in sorted(issue.shown, key=lambda e: (e.position, e.entry_id)):
        found.setdefault(entry.section, []).append(entry)
    titles = [t for t in order if t in found] + [t for t in found if t not in order]
    return tuple(IssueSection(t, tuple(found[t])) for t in titles)


def section_for(topic: str, sections: Sequence[Section]) -> str | None:
    """The title of the first section that names ``topic``."""
    return next((s.title for s in sections if topic in s.topics), None)


def plan_entries(candidates: Iterable[Candidate], sections: Sequence[Section],
                 present_stories: Iterable[int],
                 positions: Iterable[Placed] = ()) -> list[NewEntry]:
    """The entries drafting adds for ``candidates`` (approved matches of the bulletin's
    topics): best first, each story once, none of ``present_stories`` (in this issue, removed
    ones too, or carried by an earlier issue), placed after what each section holds."""
    seen = set(present_stories)
    next_position: dict[str, int] = {}
    for placed in positions:
        next_position[placed.section] = max(next_position.get(placed.section, 0),
                                            placed.position + 1)
    added = []
    for candidate in sorted(candidates, key=_rank):
        section = section_for(candidate.topic_slug, sections)
        if section is None or candidate.story in seen:
            continue
        seen.add(candidate.story)
        position = next_position.get(section, 0)
        next_position[section] = position + 1
        added.append(NewEntry(candidate.item_id, candidate.match_id, section, position,
                              candidate.note))
    return added


def _rank(candidate: Candidate) -> tuple[float, int, float, int]:
    """Best first: score, then newest (undated last), then the older match first."""
    published = candidate.published
    if published is None:
        return (-candidate.score, 1, 0.0, candidate.match_id)
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    return (-candidate.score, 0, -published.timestamp(), candidate.match_id)


def moved(placed: Sequence[Placed], entry_id: int, direction: str) -> list[Placed]:
    """The entries whose position changes when ``entry_id`` moves one place ``direction``
    (``up`` or ``down``) within its section, skipping removed entries; empty at the end."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be up or down, not {direction!r}")
    entry = next((p for p in placed if p.entry_id == entry_id), None)
    if entry is None or entry.removed:
        return []
    same = sorted((p for p in placed if p.section == entry.section and not p.removed),
                  key=lambda p: (p.position, p.entry_id))
    at = same.index(entry)
    other_at = at - 1 if direction == "up" else at + 1
    if not 0 <= other_at < len(same):
        return []
    same[at], same[other_at] = same[other_at], same[at]
    return [Placed(p.entry_id, p.section, position) for position, p in enumerate(same)
            if p.position != position]


def moved_to(placed: Sequence[Placed], entry_id: int, section: str) -> Placed | None:
    """Where ``entry_id`` goes when an editor moves it to ``section``: after everything the
    section holds, removed entries too (*Put back* returns one where it was). None when
    nothing moves: no such entry, a removed one, or one in ``section`` already."""
    entry = next((p for p in placed if p.entry_id == entry_id), None)
    if entry is None or entry.removed or entry.section == section:
        return None
    end = max((p.position for p in placed if p.section == section), default=-1) + 1
    return Placed(entry_id, section, end)
