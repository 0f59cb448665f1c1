"""Why an item did or did not match: the query's clauses with what each found (pure)."""

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


def lines(clause: Clause, indent: int = 0, *, holding_only: bool = False) -> list[str]:
    """The explanation as indented lines: ``+`` a clause that holds, ``-`` one that does not.

    ``holding_only`` leaves out the clauses that do not hold (the untaken branches of an OR),
    which is what a librarian wants to see for an item that matched: the reasons it did.
    """
    mark = "+" if clause.matched else "-"
    if clause.text.startswith("NOT "):
        detail = "absent" if clause.matched else "present: " + describe_hits(clause.hits)
    else:
        detail = describe_hits(clause.hits) if clause.matched else "not found"
    out = [f"{'  ' * indent}{mark} {clause.text}  [{detail}]"]
    if not clause.text.startswith("NOT "):
        for part in clause.parts:
            if holding_only and not part.matched:
                continue
            out.extend(lines(part, indent + 1, holding_only=holding_only))
    return out


def hits_as_dicts(hits: Hits) -> list[dict[str, str]]:
    """Hits as JSON-ready dicts (the shape stored on matches)."""
    return [{"term": h.term, "field": h.field, "word": h.word} for h in hits]


def hits_from_dicts(rows: list[dict[str, str]]) -> Hits:
    """Hits back from their stored shape; rows missing a key are skipped."""
    return tuple(Hit(r["term"], r["field"], r["word"]) for r in rows
                 if {"term", "field", "word"} <= r.keys())
