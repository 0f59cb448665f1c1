"""Which stored item is a new entry the same as? (pure; see docs/item-identity.md)

Two questions, two answers:

* **Within one source** (``known_item``): an entry is the item already stored under the same
  key (for a linked entry, its normalised link); failing that, a link-less entry is the one
  with the same title and summary fingerprint. That fallback catches feeds whose GUIDs are
  blank or rewritten (a CMS migration, ids with timestamps): the entry is re-keyed, not
  alerted again (RELIABILITY D2).
* **Across sources** (``find_story``): the same document announced by several publishers is
  one *story*: the same normalised link, the same DOI, or a near-identical title published
  within ``STORY_WINDOW`` of each other. A subscriber sees a story once. ``link_digest``,
  ``title_digest`` and ``story_windows`` say which stored items can be candidates, so the
  database can find them through indexes instead of handing over the whole archive.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from fractions import Fraction
from functools import lru_cache

from awareness.links import normalise_link

STORY_WINDOW = timedelta(days=7)
TITLE_SIMILARITY = 0.92
# Short titles ("Annual report") are the same words for different documents.
MIN_FUZZY_TITLE = 25
# The shortest stored title whose key can reach MIN_FUZZY_TITLE: the key is never longer than
# the title except through case folding, which turns one character into at most three
# ("ﬄ" → "ffl"). A database can filter on this length; it cannot compute the key.
MIN_FUZZY_TITLE_CHARS = -(-MIN_FUZZY_TITLE // 3)

# GOV.UK organisation feeds prefix titles with the document type ("Press release: …").
_TYPE_PREFIX = re.compile(
    r"^(?:press release|news story|guidance|policy paper|research and analysis|"
    r"statistics|official statistics|consultation outcome|open consultation|corporate report|"
    r"independent report|correspondence|speech|transparency data|notice|form|collection|"
    r"report|blog|news|publication)\s*[:\-–—|]\s*", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+")
DOI_PATTERN = re.compile(r"\b10\.\d{4,9}/[^\s\"'<>]+", re.IGNORECASE)


def title_key(title: str) -> str:
    """A title with its type prefix, case, punctuation and spacing removed."""
    stripped = _TYPE_PREFIX.sub("", title.strip())
    return " ".join(_NON_WORD.sub(" ", stripped.casefold()).split())


# A new item's title key is wanted several times as it is stored and joined into a story,
# and a recent item's by every source polled after it: work each out once.
cached_title_key = lru_cache(maxsize=100_000)(title_key)


def find_doi(*texts: str | None) -> str | None:
    """The first DOI in any of ``texts`` (links, ids, summaries), lower-cased, or None."""
    for text in texts:
        if text and "10." in text:  # every DOI has it; most texts have none
            found = DOI_PATTERN.search(text)
            if found:
                return found.group(0).rstrip(".,;)").lower()
    return None


def fingerprint(title: str, summary_text: str) -> str:
    """A hash of what a reader sees of an item: equal fingerprints, same item."""
    return hashlib.sha256(f"{title_key(title)}\n{summary_text}".encode()).hexdigest()[:32]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def link_digest(link: str | None) -> str | None:
    """A fixed-size stand-in for ``normalise_link(link)`` (``items.link_key``), or None.

    Links run to 2,048 characters and a PostgreSQL btree entry must stay under 2,704 bytes,
    so the index holds 32 hex digits of a SHA-256 instead. Equal normalised links, equal
    digests; a new normalisation rule needs a migration that computes them again."""
    normalised = normalise_link(link) if link else ""
    return _digest(normalised) if normalised else None


def title_digest(title: str) -> str | None:
    """A fixed-size stand-in for ``title_key(title)`` (``items.title_key``), or None when the
    title has no words (such titles never make a story)."""
    key = cached_title_key(title)
    return _digest(key) if key else None


def compared_fuzzily(title: str) -> bool:
    """Can ``title`` be near-identical to another without being equal (long enough)?"""
    return len(cached_title_key(title)) >= MIN_FUZZY_TITLE


def story_windows(published: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """The publication dates within ``STORY_WINDOW`` of any of ``published``, as few
    disjoint (first, last) ranges, oldest first."""
    windows: list[tuple[datetime, datetime]] = []
    for when in sorted(published):
        first, last = when - STORY_WINDOW, when + STORY_WINDOW
        if windows and first <= windows[-1][1]:
            windows[-1] = (windows[-1][0], last)
        else:
            windows.append((first, last))
    return windows


@dataclass(frozen=True)
class KnownItem:
    """What identity needs of a stored item."""

    id: int
    key: str
    link: str | None
    title: str
    summary_text: str
    story_id: int | None = None
    published: datetime | None = None
    doi: str | None = None


class SourceIndex:
    """The items of one source, looked up by key and (link-less ones) by fingerprint."""

    def __init__(self, items: Iterable[KnownItem]):
        self.by_key: dict[str, KnownItem] = {}
        self.by_fingerprint: dict[str, KnownItem] = {}
        for item in items:
            self.add(item)

    def add(self, item: KnownItem) -> None:
        """Index one more item (newly stored ones too, so a fetch cannot store a twin)."""
        self.by_key[item.key] = item
        if not item.link:
            self.by_fingerprint.setdefault(fingerprint(item.title, item.summary_text), item)

    def known_item(self, key: str, link: str | None, title: str,
                   summary_text: str) -> KnownItem | None:
        """The stored item this entry is, by key, then fingerprint; else None."""
        # No lookup by link: a linked entry's key *is* its normalised link, unless the feed
        # repeats the link, and then the link names several items.
        found = self.by_key.get(key)
        if found is None and not link and (title or summary_text):
            # Only for link-less entries: two linked pages may share a title and an empty
            # summary ("Weekly bulletin") and still be different documents.
            found = self.by_fingerprint.get(fingerprint(title, summary_text))
        return found


def close_in_time(a: datetime | None, b: datetime | None) -> bool:
    """Were two items published within ``STORY_WINDOW`` of each other (or is a date unknown)?"""
    return a is None or b is None or abs(a - b) <= STORY_WINDOW


def could_be_near(a: int, b: int) -> bool:
    """Can two title keys of lengths ``a`` and ``b`` be near-identical? Both long enough, and
    difflib's bound from the lengths alone (``real_quick_ratio``) reaches the similarity."""
    return min(a, b) >= MIN_FUZZY_TITLE and 2 * min(a, b) >= TITLE_SIMILARITY * (a + b)


def bigrams(key: str) -> frozenset[str]:
    """Each two-character run of ``key``, the second and later occurrences of one numbered
    ("ab", "ab1", "ab2", …), so that two such sets share as many members as the keys share
    bigrams, counted with repetition."""
    grams = [key[start:start + 2] for start in range(len(key) - 1)]
    seen: dict[str, int] = {}
    for position, gram in enumerate(grams):
        if gram in seen:
            seen[gram] = count = seen[gram] + 1
            grams[position] = f"{gram}{count}"  # a bigram is two characters: never ambiguous
        else:
            seen[gram] = 0
    return frozenset(grams)


def could_be_similar(a: frozenset[str], b: frozenset[str], total: int) -> bool:
    """Can two title keys of ``total`` characters together, with ``bigrams`` ``a`` and ``b``,
    reach ``TITLE_SIMILARITY``? Only if they share ``least_shared(total)`` bigrams. Unlike
    ``quick_ratio``'s letter counts, which two English titles of a similar length nearly
    always pass, this rejects unrelated titles."""
    return len(a & b) >= least_shared(total)


# Below TITLE_SIMILARITY by far less than any two ratios of titles differ, and far more than
# float rounding: the bound below must never reject a pair difflib's float ratio accepts.
_SIMILARITY_FLOOR = Fraction(TITLE_SIMILARITY) - Fraction(1, 2**40)


@lru_cache(maxsize=4_096)
def least_shared(total: int) -> int:
    """The fewest bigrams (``bigrams``: counted with repetition) two title keys of ``total``
    characters together must share to reach ``TITLE_SIMILARITY``.

    Why. difflib's ratio is ``2M / total``, where M is the characters in the matching
    blocks (``get_matching_blocks``; no junk, as ``autojunk=False`` and no ``isjunk``).

    1. A block of n characters is the same n characters in both keys, so the same n - 1
       bigrams at n - 1 positions of each; blocks do not overlap, so these pairs of
       positions are all different, and the keys share at least ``M - blocks`` bigrams
       counted with repetition: ``M - blocks <= shared``.
    2. difflib never reports two adjacent blocks (i + n == i' and j + n == j': it merges
       them), so between two blocks at least one character of one key or the other matches
       nothing, a different one for each gap; the unmatched characters number
       ``total - 2M``: ``blocks - 1 <= total - 2M``.
    3. Adding both: ``M <= shared + 1 + total - 2M``, that is ``3M <= shared + 1 + total``.

    A ratio of at least ``TITLE_SIMILARITY`` means ``2M >= TITLE_SIMILARITY * total``, but
    difflib divides in floating point, and a quotient rounded up to ``TITLE_SIMILARITY`` is
    within 2**-53 of it: the exact ``2M / total`` is above ``_SIMILARITY_FLOOR``. Hence
    ``shared >= 3/2 * _SIMILARITY_FLOOR * total - 1 - total``, about 0.38 x total - 1,
    computed exactly with fractions, once per total."""
    least = Fraction(3, 2) * _SIMILARITY_FLOOR * total - 1 - total
    return max(0, math.ceil(least))


def _same_title(a: str, b: str, matchers: dict[str, SequenceMatcher[str]] | None = None,
                grams: dict[str, frozenset[str]] | None = None) -> bool:
    """Equal title keys, or near-identical long ones. difflib caches what it learns of a
    matcher's second sequence, so a ``b`` compared with many titles is cheaper through a
    matcher kept for it in ``matchers``; ``grams`` keeps each key's ``bigrams`` the same
    way."""
    if not a or not b:
        return False
    if a == b:
        return True
    if min(len(a), len(b)) < MIN_FUZZY_TITLE:
        return False
    if 2 * min(len(a), len(b)) < TITLE_SIMILARITY * (len(a) + len(b)):
        return False  # real_quick_ratio's bound, before building a matcher
    if grams is not None and not could_be_similar(_bigrams_of(a, grams), _bigrams_of(b, grams),
                                                  len(a) + len(b)):
        return False
    matcher = matchers.get(b) if matchers is not None else None
    if matcher is None:
        matcher = SequenceMatcher(None, b=b, autojunk=False)
        if matchers is not None:
            matchers[b] = matcher
    matcher.set_seq1(a)
    # quick_ratio, from the characters alone, is never below ratio: most pairs stop there.
    return matcher.quick_ratio() >= TITLE_SIMILARITY and matcher.ratio() >= TITLE_SIMILARITY


def _bigrams_of(key: str, grams: dict[str, frozenset[str]]) -> frozenset[str]:
    found = grams.get(key)
    if found is None:
        found = grams[key] = bigrams(key)
    return found


def find_story(item: KnownItem, others: Iterable[KnownItem]) -> int | None:
    """The story id of the first of ``others`` (items of *other* sources) that is the same
    document as ``item``: same normalised link, same DOI, or near-identical title published
    within ``STORY_WINDOW``. None when it is a story of its own."""
    link = normalise_link(item.link) if item.link else None
    key = title_key(item.title)
    for other in others:
        story = other.story_id or other.id
        if link and other.link and normalise_link(other.link) == link:
            return story
        if item.doi and item.doi == other.doi:
            return story
        if close_in_time(item.published, other.published) and _same_title(
                key, title_key(other.title)):
            return story
    return None


def stories_by_id(items: Iterable[KnownItem]) -> Mapping[int, list[KnownItem]]:
    """Items grouped by story id (each item's own id when it has none)."""
    groups: dict[int, list[KnownItem]] = {}
    for item in items:
        groups.setdefault(item.story_id or item.id, []).append(item)
    return groups


# The same recent items are candidates for every source polled in a cycle: normalise each
# once, not once per source (a 50,000-item archive cost seconds per steady-state cycle).
_cached_link = lru_cache(maxsize=100_000)(normalise_link)


class StoryIndex:
    """``find_story`` over a fixed list of other sources' items, for many new items.

    Each candidate's normalised link and title key are computed once, and links and DOIs
    are looked up, not scanned; only near-identical titles still need a scan, which keeps
    one difflib matcher per candidate for all the new items. The answer is the one
    ``find_story`` gives: the story of the first candidate that matches.
    """

    def __init__(self, others: Iterable[KnownItem]):
        self.others = list(others)
        self.keys = [cached_title_key(other.title) for other in self.others]
        self.by_link: dict[str, int] = {}
        self.by_doi: dict[str, int] = {}
        self.matchers: dict[str, SequenceMatcher[str]] = {}  # by title key, when needed
        self.grams: dict[str, frozenset[str]] = {}  # the same
        # Which positions a title key can be near-identical to: an equal key, or a long one of
        # a length ``could_be_near`` allows, so a new item skips the rest without a look.
        self.by_key: dict[str, list[int]] = {}
        self.by_length: dict[int, list[int]] = {}
        for position, other in enumerate(self.others):
            if other.link:
                self.by_link.setdefault(_cached_link(other.link), position)
            if other.doi:
                self.by_doi.setdefault(other.doi, position)
            key = self.keys[position]
            if key:
                self.by_key.setdefault(key, []).append(position)
                if len(key) >= MIN_FUZZY_TITLE:
                    self.by_length.setdefault(len(key), []).append(position)

    def find(self, item: KnownItem) -> int | None:
        """The story id ``item`` joins, or None when it is a story of its own."""
        link = normalise_link(item.link) if item.link else None
        first = min(self.by_link.get(link, len(self.others)) if link else len(self.others),
                    self.by_doi.get(item.doi, len(self.others)) if item.doi
                    else len(self.others))
        key = cached_title_key(item.title)
        for position in self._titled_like(key):
            if position >= first:
                break
            other = self.others[position]
            if close_in_time(item.published, other.published) and _same_title(
                    key, self.keys[position], self.matchers, self.grams):
                first = position
                break
        if first == len(self.others):
            return None
        found = self.others[first]
        return found.story_id or found.id

    def _titled_like(self, key: str) -> list[int]:
        """The positions, in order, whose title key can be ``key``'s or near-identical."""
        if not key:
            return []
        near = set(self.by_key.get(key, ()))
        for length, positions in self.by_length.items():
            if could_be_near(len(key), length):
                near.update(positions)
        return sorted(near)
