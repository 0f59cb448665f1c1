"""Topic tools over the stored archive: dry runs (``topics try``) and re-matching."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from awareness.errors import AwarenessError
from awareness.model import DriverRecord, ItemText
from awareness.service.context import Context
from awareness.service.polling import load_driver_records, match_item
from awareness.storage.db import transaction
from awareness.storage.matches import was_sent
from awareness.storage.models import Item, Match, Review
from awareness.subscriptions import Topic
from awareness.topics.explain import explain, hits_as_dicts, lines
from awareness.topics.query import Hits, Query
from awareness.topics.ranking import bm25_idf, score
from awareness.topics.text import document

_DURATION = re.compile(r"\s*(\d+)\s*([hdw])\s*")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """``30d``, ``12h`` or ``2w`` as a timedelta; anything else is an AwarenessError."""
    found = _DURATION.fullmatch(text)
    if not found or int(found[1]) == 0:
        raise AwarenessError(f"--since {text!r}: expected a number and h, d or w (30d, 12h, 2w)")
    return timedelta(**{_UNITS[found[2]]: int(found[1])})


@dataclass(frozen=True)
class TriedMatch:
    """One stored item a query would have matched, with why and how well."""

    item_id: int
    source_id: str
    title: str
    link: str | None
    summary: str
    published_at: datetime | None
    score: float
    hits: Hits
    explanation: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        return {"item_id": self.item_id, "source_id": self.source_id, "title": self.title,
                "link": self.link, "score": round(self.score, 4),
                "published_at": self.published_at.isoformat() if self.published_at else None,
                "hits": hits_as_dicts(self.hits), "explanation": list(self.explanation)}


@dataclass(frozen=True)
class TryResult:
    """A dry run: what the query would have matched since ``since``, best first."""

    query: str
    since: datetime
    searched: int
    matches: list[TriedMatch]
    per_source: dict[str, tuple[int, int]] = field(default_factory=dict)  # id: (matched, searched)

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        return {"query": self.query, "since": self.since.isoformat(), "searched": self.searched,
                "matched": len(self.matches),
                "per_source": {k: {"matched": m, "searched": s}
                               for k, (m, s) in self.per_source.items()},
                "matches": [m.as_json() for m in self.matches]}


def _item_text(item: Item) -> ItemText:
    # The same fields polling matches against, so a dry run predicts live matching exactly.
    return ItemText(title=item.title, summary=item.summary_text,
                    categories=tuple(item.categories or ()),
                    source=f"{item.source.publisher} {item.source.id}")


def _recent_items(session: Session, since: datetime,
                  sources: tuple[str, ...]) -> Iterator[Item]:
    query = (select(Item).options(selectinload(Item.source))
             .where(Item.first_seen_at >= since).order_by(Item.id))
    if sources:
        query = query.where(Item.source_id.in_(sources))
    yield from session.scalars(query.execution_options(yield_per=500))


def try_query(ctx: Context, query: Query, since: timedelta, *,
              sources: tuple[str, ...] = (), limit: int | None = None) -> TryResult:
    """Run ``query`` over items first seen in the last ``since``; nothing is stored."""
    now = ctx.now()
    cutoff = now - since
    searched: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    frequency: Counter[str] = Counter()
    found: list[tuple[Item, ItemText, Hits]] = []
    with ctx.sessions() as session:
        for item in _recent_items(session, cutoff, sources):
            text = _item_text(item)
            frequency.update(document(text).all_words)
            searched[item.source_id] += 1
            hits = query.match(text)
            if hits:
                matched[item.source_id] += 1
                found.append((item, text, hits))
        total = sum(searched.values())

        def idf(word: str) -> float:
            parts = word.split()
            return sum(bm25_idf(frequency[p], total) for p in parts) / len(parts)

        results = [TriedMatch(
            item.id, item.source_id, item.title, item.link, item.summary_text,
            item.published_at, score(hits, text, published=item.published_at, now=now, idf=idf),
            hits, tuple(lines(explain(query, text), holding_only=True)))
        for item, text, hits in found]
    results.sort(key=lambda m: (-m.score, m.item_id))
    per_source = {s: (matched[s], searched[s]) for s in sorted(searched)}
    return TryResult(query.text, cutoff, total, results[:limit] if limit else results, per_source)


@dataclass(frozen=True)
class RematchResult:
    """What re-matching a topic did."""

    topic: str
    version: str
    searched: int = 0
    new: int = 0  # new matches, all waiting for review
    updated: int = 0  # unsent matches whose hits and score now come from this version
    withdrawn: int = 0  # pending matches the new version no longer makes
    kept_sent: int = 0  # matches already sent: left exactly as they were
    kept_reviewed: int = 0  # reviewed, unsent matches the new version no longer makes

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        return dict(self.__dict__)


def rematch(ctx: Context, topic: Topic, since: timedelta) -> RematchResult:
    """Apply the topic's current version to items first seen in the last ``since``.

    New matches go to review (whatever the topic's review policy: these items are not news any
    more, so a librarian decides); nothing already sent changes or is sent again.
    """
    now = ctx.now()
    counts: Counter[str] = Counter()
    drivers = load_driver_records(ctx)
    with transaction(ctx.sessions) as session:
        existing = {m.item_id: m for m in session.scalars(
            select(Match).where(Match.topic_slug == topic.slug))}
        for item in list(_recent_items(session, now - since, topic.sources)):
            if item.baseline:
                continue  # never matched live either: the back catalogue stays quiet
            counts["searched"] += 1
            text = _item_text(item)
            hits = topic.query.match(text)
            counts[_apply(session, topic, item, text, hits, existing.get(item.id), drivers, now)] \
                += 1
    counts.pop("", None)
    return RematchResult(topic.slug, topic.query.version, **counts)


def _apply(session: Session, topic: Topic, item: Item, text: ItemText, hits: Hits,
           match: Match | None, drivers: list[tuple[int, DriverRecord]], now: datetime) -> str:
    if match is None:
        if not hits:
            return ""
        match_item(session, item, item.source, [topic], drivers, now)
        created = session.scalars(select(Match).where(
            Match.item_id == item.id, Match.topic_slug == topic.slug)).one()
        created.status, created.profile_version = "pending", topic.query.version
        created.score = topic.query.score(text, hits, published=item.published_at, now=now)
        return "new"
    if was_sent(session.connection(), match.id):
        return "kept_sent"
    if hits:
        match.hits, match.profile_version = hits_as_dicts(hits), topic.query.version
        match.score = topic.query.score(text, hits, published=item.published_at, now=now)
        return "updated"
    if match.status in ("pending", "auto") and not _reviewed(session, match):
        session.delete(match)
        return "withdrawn"
    return "kept_reviewed"


def _reviewed(session: Session, match: Match) -> bool:
    return session.scalar(
        select(Review.id).where(Review.match_id == match.id).limit(1)) is not None
