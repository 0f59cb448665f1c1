"""Topic tools over the stored archive: dry runs (``topics try``) and re-matching."""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from awareness.errors import AwarenessError
from awareness.matching import ArchivedItem, rematch_action
from awareness.model import ItemText, NewMatch
from awareness.service.context import Context, read_librarian_file
from awareness.service.polling import item_matcher
from awareness.storage import items, matches
from awareness.storage import sources as stored_sources
from awareness.storage.db import reading, writing
from awareness.subscriptions import Topic, parse_topic, with_query
from awareness.topics.examples import run_examples, shortest
from awareness.topics.explain import Clause, hits_as_dicts, lines, reasons
from awareness.topics.presearch import word_lookup
from awareness.topics.query import Hits, Query
from awareness.topics.text import Document, OverBudget, document, source_segment

_DURATION = re.compile(r"\s*(\d+)\s*([hdw])\s*")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """``30d``, ``12h`` or ``2w`` as a timedelta; anything else is an AwarenessError."""
    found = _DURATION.fullmatch(text)
    if not found:
        raise AwarenessError(f"--since {text!r}: expected a number and h, d or w (30d, 12h, 2w)")
    if int(found[1]) == 0:
        raise AwarenessError(f"--since {text!r}: a period of nothing finds nothing; give at "
                             "least 1 (1d, 12h, 2w)")
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
    reasons: tuple[Clause, ...]  # the parts of the strategy that found it (explain.reasons)

    @property
    def explanation(self) -> tuple[str, ...]:
        """The reasons as indented lines (``explain.lines``), for the command line and JSON."""
        return tuple(line for reason in self.reasons for line in lines(reason))

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

    @property
    def matched(self) -> int:
        """Every item the query matched, however few of them ``matches`` holds: counted from
        ``per_source``, because ``matches`` is only the best ``limit`` (a count taken from it
        said 2 when 47 matched)."""
        return sum(found for found, _ in self.per_source.values())

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        return {"query": self.query, "since": self.since.isoformat(), "searched": self.searched,
                "matched": self.matched,
                "per_source": {k: {"matched": m, "searched": s}
                               for k, (m, s) in self.per_source.items()},
                "matches": [m.as_json() for m in self.matches]}


def try_query(ctx: Context, query: Query, since: timedelta, *,
              sources: tuple[str, ...] = (), limit: int | None = None) -> TryResult:
    """Run ``query`` over items first seen in the last ``since``; nothing is stored.

    Only the items that hold one of the words every match needs are read, with the words
    polling stored for them, so nothing is normalised again and the cost follows the
    candidates, not the archive (docs/performance.md, "Trying a query over the archive").
    """
    now = ctx.now()
    cutoff = now - since
    lookup = word_lookup(query)
    matched: Counter[str] = Counter()
    # The best ``limit`` so far, with their documents for explaining; the other matches are
    # only counted, so what stays in memory is the page, not every match (a broad query
    # kept thousands of documents alive, and the collector went through them again and
    # again: half its CPU, docs/performance.md).
    best: list[tuple[float, int, int, Hits, Document]] = []  # (score, -id, …): a min-heap
    keep = limit or None  # none or 0: every match

    def consider(item_id: int, source_id: str, published: datetime | None,
                 doc: Document) -> None:
        hits = query.match_document(doc)
        if not hits:
            return
        matched[source_id] += 1
        entry = (query.score(doc, hits, published=published, now=now), -item_id, item_id,
                 hits, doc)
        if keep is None or len(best) < keep:
            heapq.heappush(best, entry)
        elif entry[:2] > best[0][:2]:
            heapq.heapreplace(best, entry)

    with reading(ctx.engine) as conn:
        searched = items.counts_since(conn, cutoff, sources=sources)
        segments = {source_id: source_segment(publisher, source_id)
                    for source_id, publisher in stored_sources.publishers(conn).items()}
        whole = [source_id for source_id, segment in segments.items()
                 if lookup and any(lookup.could_hold(word) for word in segment)]
        without_words = []
        for item in items.words_since(conn, cutoff, sources=sources, lookup=lookup,
                                      whole_sources=whole):
            if item.words is None:
                without_words.append(item)
            else:
                consider(item.id, item.source_id, item.published,
                         item.words.document(segments[item.source_id]))
        unindexed = items.archived(conn, [item.id for item in without_words])
        for item in without_words:
            consider(item.id, item.source_id, item.published,
                     document(unindexed[item.id].candidate.text))
        shown = sorted(best, key=lambda match: (-match[0], match[2]))
        stored = items.archived(conn, [item_id for _, _, item_id, _, _ in shown])
    per_source = {s: (matched[s], searched[s]) for s in sorted(searched)}
    return TryResult(query.text, cutoff, sum(searched.values()),
                     [_tried(query, score, stored[item_id], hits, doc)
                      for score, _, item_id, hits, doc in shown], per_source)


def test_set(ctx: Context, query: Query, item_ids: Sequence[int]) -> tuple[ItemText, ...]:
    """The stored items ``item_ids`` (in that order; unknown ids left out) as a new topic's
    test set: each with only the fields ``query`` needs to match it."""
    with reading(ctx.engine) as conn:
        found = items.archived(conn, list(item_ids))
    return tuple(shortest(query, found[item_id].candidate.text)
                 for item_id in item_ids if item_id in found)


def updated_file(ctx: Context, topic: Topic, query: Query) -> tuple[str, list[str]]:
    """``topic``'s file with ``query`` for its strategy, the rest as it is, and why it cannot
    replace the file yet: the draft was tried with another spelling option than the file
    gives, or its test set has examples the new strategy gets wrong (``awareness check``
    would refuse the file while there is one)."""
    if query.spelling != topic.query.spelling:
        state = "on" if topic.query.spelling == "uk-us" else "off"
        return "", [f"{topic.name} has UK and US spellings {state}: try the draft that way "
                    "first."]
    text = with_query(read_librarian_file(Path(topic.path)), topic.path, query.text)
    failures = run_examples(parse_topic(text, topic.path, topic.slug))
    return text, [failure.message() for failure in failures]


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
    over_budget: int = 0  # too long to match within the per-item budget: left as they were

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        return dict(self.__dict__)


def _tried(query: Query, score: float, item: ArchivedItem, hits: Hits,
           doc: Document) -> TriedMatch:
    # ``score`` is the one polling stores (``Query.score``), so the review page and this dry
    # run agree on one item (issue 14: they once differed, as this one weighed words by
    # rarity). Only the matches shown are read in full and explained.
    c = item.candidate
    return TriedMatch(item.id, c.source_id, c.text.title, c.link, c.text.summary, c.published,
                      score, hits, reasons(query, doc))


def rematch(ctx: Context, topic: Topic, since: timedelta) -> RematchResult:
    """Apply the topic's current version to items first seen in the last ``since``.

    New matches go to review (whatever the topic's review policy: these items are not news any
    more, so a librarian decides); nothing already sent changes or is sent again. Updated
    matches get fresh driver links too, so records imported since are linked.

    Read, decide and match outside any transaction; then one write transaction whose
    statements re-check "not sent, not reviewed", so a digest or a librarian acting meanwhile
    wins.
    """
    now = ctx.now()
    matcher = item_matcher(ctx, [topic])
    with reading(ctx.engine) as conn:
        stored = matches.of_topic(conn, topic.slug)
        recent = [item for item in items.since(conn, now - since, sources=topic.sources)
                  if not item.baseline]  # never matched live either: the back catalogue stays
    counts: Counter[str] = Counter(searched=len(recent))
    new: list[tuple[int, NewMatch]] = []
    refreshed: list[tuple[int, NewMatch]] = []
    withdrawn: list[int] = []
    for item in recent:
        try:
            found = matcher.match(item.candidate, now)
        except OverBudget:
            counts["over_budget"] += 1
            continue
        existing = stored.get(item.id)
        action = rematch_action(existing, bool(found))
        counts[action] += 1
        if action == "new":
            new.append((item.id, replace(found[0], status="pending")))
        elif action == "updated" and existing:
            refreshed.append((existing.id, found[0]))
        elif action == "withdrawn" and existing:
            withdrawn.append(existing.id)
    with writing(ctx.engine) as conn:
        matches.insert_if_absent(conn, new, now=now)
        for match_id, match in refreshed:
            matches.refresh(conn, match_id, match)
        matches.withdraw(conn, withdrawn)
    counts.pop("", None)
    return RematchResult(topic.slug, topic.query.version, **counts)


