"""Which topics an item matches, how well, and which driver records each match links (pure).

One function for every caller: polling matches new items with it, ``topics rematch`` matches
the archive with it (issue 11: rematch used to match an item, then match it again). Built once
per set of topics and driver records, then used for many items: the presearch index of the
topics and the driver linker's prepared records are the expensive parts, and neither depends
on the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from awareness.drivers.linking import DriverLinker
from awareness.model import DriverLink, DriverRecord, ItemText, NewMatch
from awareness.subscriptions import Topic
from awareness.topics import text as topic_text
from awareness.topics.presearch import Presearch
from awareness.topics.text import document


@dataclass(frozen=True)
class Candidate:
    """An item to match: its text as the matcher sees it and what linking needs."""

    text: ItemText
    source_id: str
    publisher: str
    link: str | None
    published: datetime | None


@dataclass(frozen=True)
class ArchivedItem:
    """A stored item to match again (``topics rematch``, ``topics try``)."""

    id: int
    baseline: bool
    candidate: Candidate


@dataclass(frozen=True)
class IndexedItem:
    """A stored item as a dry run first reads it: its words as polling stored them, or None
    for an item stored without them (then its text is read and normalised)."""

    id: int
    source_id: str
    published: datetime | None
    words: topic_text.ItemWords | None


class ItemMatcher:
    """Matches items against ``topics`` and links each match to ``drivers``."""

    def __init__(self, topics: Sequence[Topic], drivers: Sequence[DriverRecord], *,
                 budget: int | None = None):
        self.budget = topic_text.DEFAULT_BUDGET if budget is None else budget
        self.topics = {topic.slug: topic for topic in topics}
        self.index: Presearch[str] = Presearch.build(
            (topic.slug, topic.query) for topic in topics)
        self.linker = DriverLinker(drivers)

    def match(self, item: Candidate, now: datetime) -> list[NewMatch]:
        """Every topic ``item`` matches (a topic limited to some sources only for those), in
        the topics' order, each with its score and driver links.

        Raises ``OverBudget`` when matching the item against every topic would cost more than
        ``budget`` steps: the caller stores it unmatched and says so (issue 11)."""
        found = self.index.match_document(document(item.text).metered(self.budget))
        out = []
        for slug, topic in self.topics.items():
            hits = found.get(slug)
            if not hits or (topic.sources and item.source_id not in topic.sources):
                continue
            out.append(NewMatch(
                topic_slug=slug, status="pending" if topic.review == "required" else "auto",
                hits=tuple(hits),
                score=topic.query.score(item.text, hits, published=item.published, now=now),
                profile_version=topic.query.version, links=tuple(self.links(item, topic))))
        return out

    def links(self, item: Candidate, topic: Topic) -> list[DriverLink]:
        """The driver records ``item`` links to as a match of ``topic``."""
        return self.linker.links(title=item.text.title, summary=item.text.summary,
                                 link=item.link, topic_tags=topic.driver_tags,
                                 publisher=item.publisher)


@dataclass(frozen=True)
class StoredMatch:
    """A topic's stored match on an item, as re-matching needs it."""

    id: int
    item_id: int
    status: str  # pending|approved|rejected|auto
    sent: bool  # in a digest already: never changes again
    reviewed: bool  # a librarian decided on it


def rematch_action(stored: StoredMatch | None, matches_now: bool) -> str:
    """What re-matching does with one item, given its stored match (if any) and whether the
    topic's current version matches it: ``new``, ``updated``, ``withdrawn``, ``kept_sent``,
    ``kept_reviewed``, or ``""`` (nothing: no match then, none now).

    Nothing already sent changes; a match a librarian decided on is never withdrawn; an
    unreviewed one that no longer matches is (it would otherwise go out under the new
    strategy's name)."""
    if stored is None:
        return "new" if matches_now else ""
    if stored.sent:
        return "kept_sent"
    if matches_now:
        return "updated"
    if stored.status in ("pending", "auto") and not stored.reviewed:
        return "withdrawn"
    return "kept_reviewed"
