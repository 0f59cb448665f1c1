"""Suggest the driver records a new item relates to, each with a reason a person can check (pure).

Three kinds of link, written out in docs/driver-records.md ("Linking"):

    same_document  the item's link and the record's main-document link are the same document
                   once normalised (``awareness.links.normalise_link``); score 1.0.
    new_edition    the item's title names a later edition of the record's series
                   (``drivers.editions``), from the same publisher when the item's publisher
                   is given; score 0.9.
    related        the item (title + summary) and the record (title + summary + key features +
                   impact) share words. Similarity is the cosine of TF-IDF vectors, with IDF
                   computed over the records given, so words every record uses count for
                   little. A topic tag shared by the item and the record multiplies the
                   similarity by 1 + ``TAG_BOOST``; a shared tag alone never makes a link.

Links are suggestions: a librarian confirms or removes them at review. The result depends only
on the arguments, and ties are broken by slug, so the same input always gives the same list.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from awareness.drivers.editions import Edition, edition_of, is_later_edition
from awareness.links import is_safe_link, normalise_link
from awareness.model import DriverLink, DriverRecord

# Calibrated on the seed page and 46 real NHS England news items (none about leadership):
# without a shared tag none scores above 0.11 against the seed records, while leadership and
# workforce news scores 0.13–0.40 against the leadership drivers.
DEFAULT_THRESHOLD = 0.12
NEW_EDITION_SCORE = 0.9
_KIND_ORDER = {"same_document": 0, "new_edition": 1, "related": 2}
TAG_BOOST = 0.5  # a shared topic tag multiplies the similarity by 1 + TAG_BOOST
MIN_SHARED_WORDS = 2  # one shared word is a coincidence ("workforce"), not a relation
REASON_WORDS = 5

# English function words, then words that nearly every NHS item and record uses and that
# therefore say nothing about what a document is about.
_STOP_TEXT = """
    a about above across after again against all also am among an and any are around as at be
    because been before being below between both but by can could did do does doing down during
    each ever every few first for from further had has have having he her here hers herself him
    himself his how i if in including into is it its itself just may me might more most much
    must my myself new no nor not now of off on once one only or other our ours ourselves out
    over own per said same say says set shall she should so some still such than that the their
    theirs them themselves then there these they this those three through to too two under until
    up upon very via was we well were what when where which while who whom why will with within
    without would yet you your yours yourself
    nhs england english care health healthcare patient staff service hospital people today week
    year time
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def related_drivers(
    *,
    title: str,
    summary: str,
    link: str | None,
    topic_tags: Sequence[str],
    records: Sequence[DriverRecord],
    limit: int = 3,
    threshold: float = DEFAULT_THRESHOLD,
    publisher: str | None = None,
) -> list[DriverLink]:
    """The records an item should be linked to, best first: same-document links, then new
    editions, then related.

    ``topic_tags`` are the tags of the topics the item matched; ``threshold`` applies to
    related links only; ``publisher`` (the item's source's publisher), when given, must agree
    with a record's source for a new-edition link. At most ``limit`` links. For many items
    against the same records, build a ``DriverLinker`` once instead.
    """
    return DriverLinker(records).links(title=title, summary=summary, link=link,
                                       topic_tags=topic_tags, limit=limit,
                                       threshold=threshold, publisher=publisher)


class DriverLinker:
    """``related_drivers`` against a fixed set of records, prepared once for many items.

    What depends only on the records (their words, IDF, vectors and norms, comparable links)
    is computed here once, and an index from word to record finds the records that share
    words with an item, so one item costs about its own length, not the number of records.
    """

    def __init__(self, records: Sequence[DriverRecord]):
        self.records = list(records)
        record_words = [words(record_text(record)) for record in self.records]
        self.idf, self.unseen = _idf(record_words)
        self.vectors = [_vector(tokens, self.idf, self.unseen) for tokens in record_words]
        self.norms = [math.sqrt(sum(w * w for w in vector.values())) for vector in self.vectors]
        self.by_word: dict[str, list[int]] = {}
        for position, vector in enumerate(self.vectors):
            for word in vector:
                self.by_word.setdefault(word, []).append(position)
        self.by_link: dict[str, list[int]] = {}
        for position, record in enumerate(self.records):
            comparable = _comparable_link(record.link)
            if comparable is not None:
                self.by_link.setdefault(comparable, []).append(position)
        # Each record's names read as editions once, not once per item (issue 11).
        self.editions = [[(name, edition_of(name)) for name in
                          (record.title, *filter(None, [record.fields.get("title_of_driver")]))]
                         for record in self.records]
        self._publishers: dict[str | None, list[int]] = {}
        self._last: tuple[tuple[str, str, str | None, str | None], _PreparedItem] | None = None

    def links(self, *, title: str, summary: str, link: str | None,
              topic_tags: Sequence[str], limit: int = 3, threshold: float = DEFAULT_THRESHOLD,
              publisher: str | None = None) -> list[DriverLink]:
        """The links of one item (see ``related_drivers``)."""
        if limit <= 0 or not self.records:
            return []
        prepared = self._prepared(title, summary, link, publisher)
        links = [*prepared.fixed, *self._related(prepared, topic_tags, threshold)]
        links.sort(key=lambda found: (_KIND_ORDER[found.kind], -found.score, found.slug))
        return links[:limit]

    def _prepared(self, title: str, summary: str, link: str | None,
                  publisher: str | None) -> _PreparedItem:
        """What the item's links owe to the item alone, kept for the item last asked about:
        an item that matches several topics is linked once per topic, and only the tag boost
        differs (issue 11: linking was most of matching at 1,000 topics). One entry, replaced
        whole, so threads sharing the linker never see another item's."""
        key = (title, summary, link, publisher)
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        fixed = self._same_document(link)
        linked = {found.slug for found in fixed}
        fixed += self._new_edition_links(title, publisher, linked)
        linked |= {found.slug for found in fixed}
        prepared = _PreparedItem(tuple(fixed), self._shared(f"{title}\n{summary}", linked))
        self._last = (key, prepared)
        return prepared

    def _same_document(self, link: str | None) -> list[DriverLink]:
        target = _comparable_link(link)
        if target is None:
            return []
        return [DriverLink(self.records[position].slug, "same_document", 1.0,
                           f"links to the same document ({target})")
                for position in self.by_link.get(target, ())]

    def _new_edition_links(self, title: str, publisher: str | None,
                           already_linked: set[str]) -> list[DriverLink]:
        links = []
        item: Edition | None = None
        for position in self._of_publisher(publisher):
            record = self.records[position]
            if record.slug in already_linked:
                continue
            if item is None:
                item = edition_of(title)
            found, reason = is_later_edition(item, self.editions[position])
            if found:
                links.append(DriverLink(record.slug, "new_edition", NEW_EDITION_SCORE, reason))
        return links

    def _of_publisher(self, publisher: str | None) -> list[int]:
        """The positions of the records ``publisher`` could have issued (``same_publisher``),
        worked out once per publisher."""
        found = self._publishers.get(publisher)
        if found is None:
            found = [position for position, record in enumerate(self.records)
                     if same_publisher(publisher, record.source)]
            if len(self._publishers) < 10_000:  # publishers are few; a bound all the same
                self._publishers[publisher] = found
        return found

    def _shared(self, item_text: str, already_linked: set[str]) -> list[_Related]:
        """The records sharing enough words with the item, with their cosine similarity."""
        item_words = words(item_text)
        if not item_words:
            return []
        item_vector = _vector(item_words, self.idf, self.unseen)
        item_norm = math.sqrt(sum(w * w for w in item_vector.values()))
        sharing: Counter[int] = Counter()
        for word in item_vector:
            sharing.update(self.by_word.get(word, ()))
        text = _ItemText(item_text, item_vector)
        related = []
        for position in sorted(sharing):
            record = self.records[position]
            if sharing[position] < MIN_SHARED_WORDS or record.slug in already_linked:
                continue
            vector = self.vectors[position]
            norm = item_norm * self.norms[position]
            dot = sum(weight * vector[word] for word, weight in item_vector.items()
                      if word in vector)
            related.append(_Related(position, dot / norm if norm else 0.0, text))
        return related

    def _related(self, prepared: _PreparedItem, topic_tags: Sequence[str],
                 threshold: float) -> list[DriverLink]:
        links = []
        for found in prepared.related:
            record = self.records[found.position]
            tags = shared_tags(record.tags, topic_tags)
            score = min(1.0, found.cosine * (1 + (TAG_BOOST if tags else 0)))
            if score >= threshold:
                shared = found.item.shared_words(self.vectors[found.position])
                links.append(DriverLink(record.slug, "related", round(score, 3),
                                        _reason(tags, shared)))
        return links


class _ItemText:
    """An item's text and vector; its surface forms worked out once, when a link needs them."""

    def __init__(self, text: str, vector: dict[str, float]):
        self.text, self.vector = text, vector
        self._surface: dict[str, str] | None = None

    def shared_words(self, vector: dict[str, float]) -> list[str]:
        """The words shared with a record's ``vector``, most telling first, as written."""
        mine = self.vector
        shared = sorted(mine.keys() & vector.keys(), key=lambda w: (-mine[w] * vector[w], w))
        if self._surface is None:
            self._surface = _surface_forms(self.text)
        return [self._surface.get(w, w) for w in shared[:REASON_WORDS]]


@dataclass(frozen=True)
class _Related:
    """A record sharing words with an item: its position and their cosine similarity."""

    position: int
    cosine: float
    item: _ItemText


@dataclass(frozen=True)
class _PreparedItem:
    """An item's same-document and new-edition links, and the records it shares words with."""

    fixed: tuple[DriverLink, ...]
    related: list[_Related]


def same_publisher(publisher: str | None, source: str) -> bool:
    """Could ``publisher`` have issued a record whose source is ``source``? Unknown either
    side: yes. Else one contains the other, or one is the other's initials ("CQC")."""
    if not publisher or not source.strip():
        return True
    a, b = publisher.casefold().strip(), source.casefold().strip()
    return a in b or b in a or _initials(a) == b or _initials(b) == a


def _initials(name: str) -> str:
    return "".join(w[0] for w in re.findall(r"[a-z]+", name) if w not in ("of", "and", "the"))


def _comparable_link(url: str | None) -> str | None:
    if not is_safe_link(url):
        return None
    try:
        return normalise_link(url or "")
    except ValueError:  # e.g. a port number out of range
        return None


def record_text(record: DriverRecord) -> str:
    """The text of a record that linking compares with items."""
    parts = (record.title, record.summary, record.fields.get("key_features", ""), record.impact)
    return "\n".join(parts)


def words(text: str) -> list[str]:
    """The content words of ``text``: case-folded, no stop words or numbers, plurals singular."""
    return [content for content in map(_content, _WORD.findall(text.casefold()))
            if content is not None]


_POSSESSIVE = re.compile(r"['’]s$")


@lru_cache(maxsize=50_000)  # the words of the feeds' language; beyond it, worked out again
def _content(word: str) -> str | None:
    """``_content_word``, remembered for the commonest words."""
    return _content_word(word)


def _content_word(word: str) -> str | None:
    word = _singular(_POSSESSIVE.sub("", word))
    if len(word) > 2 and word not in STOP_WORDS and not word.isdigit():
        return word
    return None


def shared_tags(record_tags: Sequence[str], topic_tags: Sequence[str]) -> list[str]:
    """The record's tags that are also topic tags, compared case-insensitively."""
    wanted = {tag.casefold().strip() for tag in topic_tags}
    return [tag for tag in record_tags if tag.casefold().strip() in wanted]


def _singular(word: str) -> str:
    # Plurals only: "leaders" and "leader" are one word, "leadership" stays another.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _surface_forms(text: str) -> dict[str, str]:
    forms: dict[str, str] = {}
    for word in _WORD.findall(text.casefold()):
        content = _content(word)
        if content is not None and content not in forms:
            forms[content] = _POSSESSIVE.sub("", word)
    return forms


def _idf(documents: list[list[str]]) -> tuple[dict[str, float], float]:
    """Smoothed IDF per word, and the weight of a word no document uses."""
    counts = Counter(word for doc in documents for word in set(doc))
    n = len(documents)
    idf = {word: math.log((n + 1) / (df + 1)) + 1 for word, df in counts.items()}
    return idf, math.log(n + 1) + 1


def _vector(tokens: list[str], idf: dict[str, float], unseen: float) -> dict[str, float]:
    return {
        word: (1 + math.log(count)) * idf.get(word, unseen)
        for word, count in Counter(tokens).items()
    }


def _reason(tags: list[str], shared: list[str]) -> str:
    quoted = ", ".join(f"‘{tag}’" for tag in tags)
    said = f"shares: {', '.join(shared)}"
    if not tags:
        return said
    return f"same topic tag{'s' if len(tags) > 1 else ''} {quoted}; {said}"
