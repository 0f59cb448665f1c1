"""Why an item did or did not match: the query's clauses with what each found (pure).

``explain`` walks the whole query, for an item that failed as much as for one that matched.
``reasons`` says only why an item matched: the parts of the strategy that hold for it, so a
page listing many matches of one long strategy shows the strategy once and, under each
item, the few terms that found it.
"""

from __future__ import annotations

from dataclasses import dataclass

from awareness.model import Hit, ItemText
from awareness.topics.nodes import And, Field, Hits, Node, Not, Or
from awareness.topics.query import Query
from awareness.topics.text import DEFAULT_FIELDS, Document, document


@dataclass(frozen=True)
class Clause:
    """One clause of the query: did it match, which words in which fields, and its parts.

    For a ``NOT x`` clause, ``matched`` says whether the exclusion held (x absent) and
    ``hits`` are the words that broke it (x present).
    """

    text: str
    matched: bool
    hits: Hits = ()
    parts: tuple[Clause, ...] = ()


def explain(query: Query, item: ItemText | Document) -> Clause:
    """The explanation of matching ``item`` (or its ``Document``) against ``query``, clause
    by clause."""
    doc = item if isinstance(item, Document) else document(item)
    return _clause(query.ast, doc, DEFAULT_FIELDS)


def reasons(query: Query, item: ItemText | Document) -> tuple[Clause, ...]:
    """Why ``item`` matched ``query``: each alternative of the strategy that holds for it,
    explained, with what did not hold left out (the OR branches that found nothing). An
    alternative is a term with the words it found, or an AND of such parts (its excluded
    terms among them, absent). Nothing when the item does not match."""
    doc = item if isinstance(item, Document) else document(item)
    held = _holding(query.ast, doc, DEFAULT_FIELDS)
    if held is None:
        return ()
    return tuple(_clause(node, doc, DEFAULT_FIELDS) for node in _alternatives(held))


def _holding(node: Node, doc: Document, fields: tuple[str, ...]) -> Node | None:
    """``node`` without the OR branches that do not hold for ``doc`` (None if it does not
    hold). NEAR is kept whole: which of its operands' words are near each other is its own
    business."""
    if node.evaluate(doc, fields) is None:
        return None
    if isinstance(node, Field):
        operand = _holding(node.operand, doc, (node.name,))
        return Field(node.name, operand) if operand is not None else None
    if isinstance(node, And):
        parts = tuple(_holding(part, doc, fields) if not isinstance(part, Not) else part
                      for part in node.operands)
        return And(tuple(part for part in parts if part is not None))
    if isinstance(node, Or):
        held = [found for part in node.operands
                if (found := _holding(part, doc, fields)) is not None]
        return held[0] if len(held) == 1 else Or(tuple(held))
    return node


def _alternatives(node: Node) -> list[Node]:
    """The top-level alternatives of a holding strategy: each operand of an OR (a field limit
    carried into each), else the strategy itself."""
    if isinstance(node, Or):
        return [found for part in node.operands for found in _alternatives(part)]
    if isinstance(node, Field) and isinstance(node.operand, Or):
        return [Field(node.name, part) for part in _alternatives(node.operand)]
    return [node]


def _clause(node: Node, doc: Document, fields: tuple[str, ...]) -> Clause:
    if isinstance(node, Not):
        found = node.operand.evaluate(doc, fields)
        inner = _clause(node.operand, doc, fields)
        return Clause(node.render(), found is None, found or (), inner.parts)
    if isinstance(node, Field):
        inner = _clause(node.operand, doc, (node.name,))
        return Clause(node.render(), inner.matched, inner.hits, inner.parts)
    hits = node.evaluate(doc, fields)
    parts = tuple(_clause(child, doc, fields) for child in node.children()) \
        if isinstance(node, And | Or) else ()
    return Clause(node.render(), hits is not None, hits or (), parts)


def describe_hits(hits: Hits) -> str:
    """``title: leadership, leaders; summary: talent management`` (fields in first-hit order)."""
    by_field: dict[str, list[str]] = {}
    for hit in hits:
        found = by_field.setdefault(hit.field, [])
        if hit.word not in found:
            found.append(hit.word)
    return "; ".join(f"{name}: {', '.join(found)}" for name, found in by_field.items())


def lines(clause: Clause, indent: int = 0) -> list[str]:
    """The explanation as indented lines: ``+`` a clause that holds, ``-`` one that does not
    (for one reason an item matched, from ``reasons``, every line holds)."""
    mark = "+" if clause.matched else "-"
    if clause.text.startswith("NOT "):
        detail = "absent" if clause.matched else "present: " + describe_hits(clause.hits)
    else:
        detail = describe_hits(clause.hits) if clause.matched else "not found"
    out = [f"{'  ' * indent}{mark} {clause.text}  [{detail}]"]
    if not clause.text.startswith("NOT "):
        for part in clause.parts:
            out.extend(lines(part, indent + 1))
    return out


def hits_as_dicts(hits: Hits) -> list[dict[str, str]]:
    """Hits as JSON-ready dicts (the shape stored on matches)."""
    return [{"term": h.term, "field": h.field, "word": h.word} for h in hits]


def hits_from_dicts(rows: list[dict[str, str]]) -> Hits:
    """Hits back from their stored shape; rows missing a key are skipped."""
    return tuple(Hit(r["term"], r["field"], r["word"]) for r in rows
                 if {"term", "field", "word"} <= r.keys())
