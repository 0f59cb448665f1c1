"""Presearch: index many profiles by the words they need, evaluate only candidates (pure).

This is Lucene Monitor's idea. Every query that matches must find at least one word of its
*anchor set* somewhere in the item: a term's anchor set is its pattern; a phrase's or NEAR's
is that of one of its words; an AND's is that of its most selective positive operand (NOT
operands never help a match); an OR's is the union of its branches'. The index maps anchor
words, truncation stems and the first letters of wildcard words to profiles, so an item is
evaluated only against profiles that have an anchor among its words: cost grows with the
candidates, not with items × profiles. Matching a candidate is the ordinary ``Query.match``,
so the presearch matcher returns exactly what evaluating every profile would.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Generic, TypeVar

from awareness.model import ItemText
from awareness.topics.nodes import And, Field, Hits, Near, Node, Not, Or, Phrase, Term
from awareness.topics.query import Query
from awareness.topics.text import Document, WordPattern, document

K = TypeVar("K", bound=Hashable)
PREFIX = 3  # truncations need 3 letters, so most prefix keys have exactly this length
Anchors = frozenset[WordPattern]


def anchors(node: Node) -> Anchors | None:
    """A set of patterns one of which every match of ``node`` contains; None if there is none."""
    if isinstance(node, Term):
        return frozenset({node.pattern})
    if isinstance(node, Phrase):
        return _best([frozenset({p}) for p in node.patterns])
    if isinstance(node, Near):
        return _best([anchors(node.left), anchors(node.right)])
    if isinstance(node, Field):
        return anchors(node.operand)
    if isinstance(node, And):
        return _best([anchors(op) for op in node.operands if not isinstance(op, Not)])
    if isinstance(node, Or):
        branches = [anchors(op) for op in node.operands]
        if any(branch is None for branch in branches):
            return None
        return frozenset().union(*(b for b in branches if b is not None))
    return None


def _cost(found: Anchors) -> float:
    # Exact words are cheap dictionary hits and usually rare; truncations and wildcards need a
    # check per word sharing their first letters, and short ones match many words.
    return sum(1.0 if not (p.truncated or p.wild) else 4.0 + 8.0 / len(p.literal_prefix)
               for p in found)


def _best(options: Iterable[Anchors | None]) -> Anchors | None:
    usable = [option for option in options if option is not None]
    return min(usable, key=_cost) if usable else None


@dataclass(frozen=True)
class WordLookup:
    """What to look up in an index of stored words to find every item a query may match: the
    exact words, and the prefixes of the truncations and wildcard words, of its anchor set.

    An item none of whose words is one of ``exact`` or starts with one of ``prefixes``
    cannot match (a superset of the matches, as ``Presearch.candidates``)."""

    exact: frozenset[str]
    prefixes: frozenset[str]

    def could_hold(self, word: str) -> bool:
        """Would an item with ``word`` be among the candidates?"""
        return word in self.exact or word.startswith(tuple(self.prefixes))


def word_lookup(query: Query) -> WordLookup | None:
    """The lookup that finds ``query``'s candidates; None when every item is one (a query
    whose every match may hold no word of its own: only NOT, or a wildcard word with no
    letter before its first wildcard)."""
    found = anchors(query.ast)
    if found is None:
        return None
    exact: set[str] = set()
    prefixes: set[str] = set()
    for pattern in found:
        if pattern.truncated or pattern.wild:
            prefixes.update(pattern.prefixes())
        else:
            exact.update(pattern.spellings())
    if "" in prefixes:
        return None
    return WordLookup(frozenset(exact), frozenset(prefixes))


@dataclass
class Presearch(Generic[K]):
    """An index of profiles (``key`` → Query) by their anchor words."""

    exact: dict[str, set[K]] = field(default_factory=lambda: defaultdict(set))
    stems: dict[str, set[K]] = field(default_factory=lambda: defaultdict(set))
    stem_lengths: set[int] = field(default_factory=set)
    prefixed: dict[str, list[tuple[WordPattern, K]]] = field(
        default_factory=lambda: defaultdict(list))
    prefix_lengths: set[int] = field(default_factory=set)
    always: set[K] = field(default_factory=set)
    queries: dict[K, Query] = field(default_factory=dict)

    @classmethod
    def build(cls, profiles: Iterable[tuple[K, Query]]) -> Presearch[K]:
        """Index ``profiles``; a key appearing twice keeps its last query."""
        index: Presearch[K] = cls()
        for key, query in profiles:
            index.add(key, query)
        return index

    def add(self, key: K, query: Query) -> None:
        """Index one profile."""
        self.queries[key] = query
        found = anchors(query.ast)
        if found is None:
            self.always.add(key)
            return
        for pattern in found:
            if not pattern.wild:
                for spelling in pattern.spellings():
                    (self.stems if pattern.truncated else self.exact)[spelling].add(key)
                    if pattern.truncated:
                        self.stem_lengths.add(len(spelling))
                continue
            for prefix in dict.fromkeys(p[:PREFIX] for p in pattern.prefixes()):
                self.prefixed[prefix].append((pattern, key))
                self.prefix_lengths.add(len(prefix))

    def candidates(self, doc: Document) -> set[K]:
        """The profiles that might match ``doc`` (a superset of those that do)."""
        found = set(self.always)
        exact, stems, prefixed = self.exact, self.stems, self.prefixed
        stem_lengths, lengths = sorted(self.stem_lengths), sorted(self.prefix_lengths)
        for word in doc.all_words:
            keys = exact.get(word)
            if keys:
                found |= keys
            for length in stem_lengths:  # a truncation matches when its stem is a prefix
                if length > len(word):
                    break
                keys = stems.get(word[:length])
                if keys:
                    found |= keys
            for length in lengths:
                bucket = prefixed.get(word[:length])
                if bucket:
                    found.update(key for pattern, key in bucket
                                 if key not in found and pattern.matches(word))
        return found

    def match_document(self, doc: Document) -> dict[K, Hits]:
        """Each profile that matches ``doc``, with its hits."""
        results = {}
        for key in self.candidates(doc):
            hits = self.queries[key].match_document(doc)
            if hits:
                results[key] = hits
        return results

    def match(self, item: ItemText) -> dict[K, Hits]:
        """Each profile that matches ``item``, with its hits."""
        return self.match_document(document(item))


@lru_cache(maxsize=16)
def cached_index(profiles: tuple[tuple[Hashable, Query], ...]) -> Presearch[Hashable]:
    """The index of ``profiles``, built once per distinct set of (key, query) pairs.

    Queries compare by text, spelling and AST, so an unchanged topic set reuses its index and
    any edit to one topic builds a new one.
    """
    return Presearch.build(profiles)


def naive_match(profiles: Iterable[tuple[K, Query]], item: ItemText) -> dict[K, Hits]:
    """The baseline presearch must agree with: evaluate every profile."""
    doc = document(item)
    results = {}
    for key, query in profiles:
        hits = query.match_document(doc)
        if hits:
            results[key] = hits
    return results
