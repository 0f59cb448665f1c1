"""The AST of a topic query and how each node matches a document (pure).

``evaluate(doc, fields)`` returns the hits that make a node match, or None when it does not.
Positional nodes (terms, phrases, NEAR and OR-groups of those) can also list their ``spans``:
where in one segment of one field they occur, which is what NEAR needs.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from awareness.model import Hit
from awareness.topics.text import Document, WordPattern

Hits = tuple[Hit, ...]
_EMPTY: frozenset[str] = frozenset()
# (first word, last word, runs of words) of one occurrence within a segment: a term or phrase
# is one run, a NEAR one run per side, so a hit never claims words that are not consecutive.
Span = tuple[int, int, tuple[tuple[str, ...], ...]]


class Node:
    """Base of the AST."""

    def evaluate(self, doc: Document, fields: tuple[str, ...]) -> Hits | None:
        """Match this node against ``doc``, searching only ``fields``."""
        raise NotImplementedError

    def leaves(self) -> Iterator[Term | Phrase]:
        """The terms and phrases that can contribute hits (those under NOT cannot)."""
        raise NotImplementedError

    def children(self) -> tuple[Node, ...]:
        """The direct sub-nodes (for explanations and analysis)."""
        return ()

    def render(self) -> str:
        """The node as a fully parenthesised query that parses back to an equal node."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.render()


class Positional(Node):
    """A node with positions: it can be an operand of NEAR."""

    def spans(self, segment: tuple[str, ...]) -> list[Span]:
        """Every occurrence of this node in ``segment``."""
        raise NotImplementedError

    def could_occur(self, doc: Document, vocabulary: frozenset[str]) -> bool:
        """A cheap test: False when this node certainly does not occur in a field."""
        return True

    def evaluate(self, doc: Document, fields: tuple[str, ...]) -> Hits | None:
        """One hit per field and distinct run of words (a NEAR has one run per side)."""
        if not self.could_occur(doc, doc.all_words):
            return None
        term = self.render()
        width = sum(1 for _ in self.leaves())  # each leaf scans the segment once
        hits: list[Hit] = []
        for name in fields:
            if not self.could_occur(doc, doc.vocabulary.get(name, _EMPTY)):
                continue
            for segment in doc.segments.get(name, ()):
                doc.charge(len(segment) * width)
                hits.extend(Hit(term, name, " ".join(run))
                             for span in self.spans(segment) for run in span[2])
        return tuple(dict.fromkeys(hits)) or None


@dataclass(frozen=True)
class Term(Positional):
    """A single word, truncation or wildcard word."""

    pattern: WordPattern

    def evaluate(self, doc: Document, fields: tuple[str, ...]) -> Hits | None:
        """One hit per field and distinct matching word."""
        found = self.words_in(doc)
        if not found:  # most terms of a profile are absent from an item: decided once
            return None
        term = self.render()
        hits = tuple(Hit(term, name, word)
                     for name in fields
                     for vocabulary in (doc.vocabulary.get(name, _EMPTY),)
                     for word in found if word in vocabulary)
        return hits or None

    def words_in(self, doc: Document) -> list[str]:
        """The words of the whole document that this term accepts, sorted."""
        pattern = self.pattern
        if not pattern.truncated and not pattern.wild:
            return sorted(s for s in pattern.spellings() if s in doc.all_words) \
                if pattern.variants else [pattern.stem] if pattern.stem in doc.all_words else []
        found = [word for prefix in pattern.prefixes()
                 for word in doc.starting_with(doc.all_words, prefix)
                 if pattern.wild is False or pattern.matches(word)]
        return sorted(set(found)) if len(pattern.prefixes()) > 1 else found

    def could_occur(self, doc: Document, vocabulary: frozenset[str]) -> bool:
        """Does any word of the field match?"""
        return any(word in vocabulary for word in self.words_in(doc))

    def spans(self, segment: tuple[str, ...]) -> list[Span]:
        """Each position holding a matching word."""
        return [(at, at, ((word,),)) for at, word in enumerate(segment)
                if self.pattern.matches(word)]

    def leaves(self) -> Iterator[Term | Phrase]:
        """Just this term."""
        yield self

    def render(self) -> str:
        """``leader*``."""
        return str(self.pattern)


@dataclass(frozen=True)
class Phrase(Positional):
    """Consecutive words in one segment of one field."""

    patterns: tuple[WordPattern, ...]

    def could_occur(self, doc: Document, vocabulary: frozenset[str]) -> bool:
        """Every exact word of the phrase must occur somewhere in the field."""
        return all(p.truncated or p.wild or p.stem in vocabulary or
                   any(v in vocabulary for v in p.variants) for p in self.patterns)

    def spans(self, segment: tuple[str, ...]) -> list[Span]:
        """Each run of consecutive words that the patterns accept in order."""
        width = len(self.patterns)
        found: list[Span] = []
        for start in range(len(segment) - width + 1):
            window = segment[start:start + width]
            if all(p.matches(w) for p, w in zip(self.patterns, window, strict=True)):
                found.append((start, start + width - 1, (window,)))
        return found

    def leaves(self) -> Iterator[Term | Phrase]:
        """Just this phrase."""
        yield self

    def render(self) -> str:
        """``"talent management"``."""
        return '"' + " ".join(str(p) for p in self.patterns) + '"'


@dataclass(frozen=True)
class Near(Positional):
    """Both operands in one segment of one field, either order, at most ``distance`` words apart."""

    left: Positional
    right: Positional
    distance: int

    def could_occur(self, doc: Document, vocabulary: frozenset[str]) -> bool:
        """Both sides must be able to occur."""
        return self.left.could_occur(doc, vocabulary) and self.right.could_occur(doc, vocabulary)

    def spans(self, segment: tuple[str, ...]) -> list[Span]:
        """Occurrences of the two sides close enough, each as the span covering both.

        Each occurrence with a partner on the other side is paired with its nearest partner
        before it and after it, found by binary search over positions, so the cost grows with
        the hits, not with their pairs (pairing all of them grew with hits² × distance: 73 s
        for 500 wordy items, issue 11). Nothing is lost: every word the pairs reported is
        reported, and the narrowest span at each end is what an enclosing NEAR measures."""
        lefts = self.left.spans(segment)
        rights = self.right.spans(segment) if lefts else []
        if not rights:
            return []
        found = dict.fromkeys(self._nearest(lefts, rights))
        found.update(dict.fromkeys(self._nearest(rights, lefts)))
        return sorted(found, key=lambda span: (span[0], span[1]))

    def _nearest(self, these: list[Span], others: list[Span]) -> Iterator[Span]:
        """Each of ``these`` with its nearest partner among ``others`` on either side.

        A partner after a span starts 1 to distance + 1 words after the span's end; one before
        it ends 1 to distance + 1 words before its start (a gap of 0 to distance words)."""
        by_start = sorted(others, key=lambda span: span[0])
        starts = [span[0] for span in by_start]
        by_end = sorted(others, key=lambda span: span[1])
        ends = [span[1] for span in by_end]
        for this in these:
            after = bisect_left(starts, this[1] + 1)
            if after < len(starts) and starts[after] <= this[1] + 1 + self.distance:
                yield _join(this, by_start[after])
            before = bisect_right(ends, this[0] - 1) - 1
            if before >= 0 and ends[before] >= this[0] - 1 - self.distance:
                yield _join(by_end[before], this)

    def leaves(self) -> Iterator[Term | Phrase]:
        """The leaves of both sides."""
        yield from self.left.leaves()
        yield from self.right.leaves()

    def children(self) -> tuple[Node, ...]:
        """Both sides."""
        return (self.left, self.right)

    def render(self) -> str:
        """``nurse* NEAR/3 (retention OR retain*)``."""
        right = f"({self.right.render()})" if isinstance(self.right, Near | Or) else \
            self.right.render()
        left = f"({self.left.render()})" if isinstance(self.left, Or) else self.left.render()
        return f"{left} NEAR/{self.distance} {right}"


def _join(first: Span, second: Span) -> Span:
    """The span covering ``first`` and ``second``, which starts later; runs in word order."""
    return (first[0], max(first[1], second[1]), first[2] + second[2])


@dataclass(frozen=True)
class Field(Node):
    """A field limit: the operand is searched in that field only (``title:leader*``)."""

    name: str
    operand: Node

    def evaluate(self, doc: Document, fields: tuple[str, ...]) -> Hits | None:
        """The operand, searched in this field alone; the innermost limit wins."""
        del fields
        return self.operand.evaluate(doc, (self.name,))

    def leaves(self) -> Iterator[Term | Phrase]:
        """The operand's leaves."""
        return self.operand.leaves()

    def children(self) -> tuple[Node, ...]:
        """The operand."""
        return (self.operand,)

    def render(self) -> str:
        """``title:(a OR b)``."""
        inner = self.operand.render()
        return f"{self.name}:({inner})" if isinstance(self.operand, And | Or | Near) else \
            f"{self.name}:{inner}"


@dataclass(frozen=True)
class Not(Node):
    """The right-hand side of ``a NOT b``; only ever an operand of ``And`` after the first."""

    operand: Node

    def evaluate(self, doc: Document, fields: tuple[str, ...]) -> Hits | None:
        """Matches, with no hits, when the operand does not match."""
        return () if self.operand.evaluate(doc, fields) is None else None

    def leaves(self) -> Iterator[Term | Phrase]:
        """Nothing: an excluded term never explains a match."""
        return iter(())

    def children(self) -> tuple[Node, ...]:
        """The excluded operand."""
        return (self.operand,)

    def render(self) -> str:
        """``NOT x``."""
        return "NOT " + group(self.operand)


class Compound:
    """Shared by And and Or: a node whose children are its ``operands``."""

    operands: tuple[Node, ...]

    def leaves(self) -> Iterator[Term | Phrase]:
        """The leaves of every operand."""
        for operand in self.operands:
            yield from operand.leaves()

    def children(self) -> tuple[Node, ...]:
        """The operands."""
        return self.operands


@dataclass(frozen=True)
class And(Compound, Node):
    """All operands match; hits are those of every operand."""

    operands: tuple[Node, ...]

    def evaluate(self, doc: Document, fields: tuple[str, ...]) -> Hits | None:
        """Stops at the first operand that fails."""
        hits: list[Hit] = []
        for operand in self.operands:
            found = operand.evaluate(doc, fields)
            if found is None:
                return None
            hits.extend(found)
        return tuple(hits)

    def render(self) -> str:
        """``a AND b NOT c``."""
        parts = [group(self.operands[0])]
        for operand in self.operands[1:]:
            parts.append(operand.render() if isinstance(operand, Not) else "AND " + group(operand))
        return " ".join(parts)


@dataclass(frozen=True)
class Or(Compound, Positional):
    """Any operand matches; hits are those of every operand that matched.

    An OR-group is positional (a NEAR operand) when all its operands are.
    """

    operands: tuple[Node, ...]

    def evaluate(self, doc: Document, fields: tuple[str, ...]) -> Hits | None:
        """Evaluates every branch so that the explanation is complete."""
        results = [operand.evaluate(doc, fields) for operand in self.operands]
        matched = [hits for hits in results if hits is not None]
        return tuple(hit for hits in matched for hit in hits) if matched else None

    def spans(self, segment: tuple[str, ...]) -> list[Span]:
        """The spans of every operand (all positional: the parser checks)."""
        return [span for operand in self.operands
                if isinstance(operand, Positional) for span in operand.spans(segment)]

    def could_occur(self, doc: Document, vocabulary: frozenset[str]) -> bool:
        """Any operand may occur."""
        return any(isinstance(operand, Positional) and operand.could_occur(doc, vocabulary)
                   for operand in self.operands)

    def render(self) -> str:
        """``a OR (b AND c)``."""
        return " OR ".join(group(operand) for operand in self.operands)


def is_positional(node: Node) -> bool:
    """Can ``node`` be an operand of NEAR (terms, phrases, NEAR, OR-groups of those)?"""
    if isinstance(node, Or):
        return all(is_positional(operand) for operand in node.operands)
    return isinstance(node, Term | Phrase | Near)


def group(node: Node) -> str:
    """``node`` rendered, in parentheses if it is an AND or OR."""
    return f"({node.render()})" if isinstance(node, And | Or) else node.render()
