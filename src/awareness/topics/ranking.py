"""Relevance of a match: BM25-style over the matched words, with recency as a tie-break (pure).

For each distinct (field, word) a match hit, the word's frequency in that field is saturated
and normalised by the field's length as in BM25 (k1 = 1.2, b = 0.75, against a typical length
per field), weighted by field (title 3, category 2, summary 1, source 1) and optionally by the
word's rarity (``idf``, when the caller knows document frequencies). The sum is rounded to two
decimals and a recency bonus below 0.005 is added, so that recency only orders matches whose
relevance is equal at that precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime

from awareness.model import Hit, ItemText
from awareness.topics.text import Document, document

K1 = 1.2
B = 0.75
FIELD_WEIGHTS = {"title": 3.0, "category": 2.0, "summary": 1.0, "source": 1.0}
# Typical lengths in words of each field in news feeds (the BM25 "average document length").
TYPICAL_LENGTH = {"title": 10.0, "summary": 40.0, "category": 2.0, "source": 4.0}
RECENCY_SCALE_DAYS = 30.0


def relevance(hits: Iterable[Hit], item: ItemText | Document,
              idf: Callable[[str], float] | None = None) -> float:
    """The BM25-style relevance of the hits of a match of ``item`` (no recency); ``item`` may
    be already normalised."""
    doc = item if isinstance(item, Document) else document(item)
    total = 0.0
    fields: dict[str, list[str]] = {}
    for field, word in dict.fromkeys((hit.field, hit.word) for hit in hits):
        field_words = fields.get(field)
        if field_words is None:
            field_words = fields[field] = [w for segment in doc.segments.get(field, ())
                                           for w in segment]
        run = tuple(word.split())
        tf = _occurrences(field_words, run) or 1
        length = len(field_words) or 1
        norm = 1 - B + B * length / TYPICAL_LENGTH.get(field, 10.0)
        weight = FIELD_WEIGHTS.get(field, 1.0) * (idf(word) if idf else 1.0)
        total += weight * tf * (K1 + 1) / (tf + K1 * norm)
    return total


def _occurrences(field_words: list[str], run: tuple[str, ...]) -> int:
    width = len(run)
    if width == 1:
        return field_words.count(run[0])
    return sum(1 for at in range(len(field_words) - width + 1)
               if tuple(field_words[at:at + width]) == run)


def recency(published: datetime | None, now: datetime | None) -> float:
    """A value in [0, 1): 1 for an item published now, falling with age; 0 if unknown."""
    if published is None or now is None:
        return 0.0
    age_days = max((now - published).total_seconds() / 86400, 0.0)
    return 0.999 * math.exp(-age_days / RECENCY_SCALE_DAYS)


def score(hits: Iterable[Hit], item: ItemText | Document, *, published: datetime | None = None,
          now: datetime | None = None, idf: Callable[[str], float] | None = None) -> float:
    """Relevance rounded to 0.01, plus a recency tie-break below 0.005."""
    return round(relevance(hits, item, idf), 2) + 0.005 * recency(published, now)


def bm25_idf(document_frequency: int, documents: int) -> float:
    """BM25's idf for a word found in ``document_frequency`` of ``documents`` items."""
    return math.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))
