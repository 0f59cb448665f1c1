"""The topic query language: parse a query, match items, explain and rank matches (pure).

The contract is docs/search-language.md. The parts live in their own modules: ``text`` (the
text model), ``nodes`` (the AST and matching), ``syntax`` (lexer and parser), ``explain``,
``ranking`` and ``highlight``; this module is the front door and re-exports what callers need.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from awareness.model import Hit, ItemText
from awareness.topics import ranking
from awareness.topics.nodes import (
    And,
    Field,
    Hits,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Positional,
    Term,
)
from awareness.topics.syntax import MAX_NESTING, Parser
from awareness.topics.text import (
    DEFAULT_FIELDS,
    FIELDS,
    Document,
    WordPattern,
    document,
    normalise,
    words,
)

__all__ = [
    "DEFAULT_FIELDS", "FIELDS", "MAX_NESTING", "And", "Document", "Field", "Hit", "Hits", "Near",
    "Node", "Not", "Or", "Phrase", "Positional", "Query", "Term", "WordPattern", "document",
    "lint_query", "normalise", "parse_query", "words",
]


@dataclass(frozen=True)
class Query:
    """A parsed topic query: the text as written, its AST and its spelling option."""

    text: str
    ast: Node
    spelling: str = field(default="none")

    def match(self, item: ItemText) -> Hits:
        """The hits that make ``item`` match, in query order; an empty tuple means no match."""
        return self.match_document(document(item))

    def match_document(self, doc: Document) -> Hits:
        """As ``match``, for an item already normalised."""
        hits = self.ast.evaluate(doc, DEFAULT_FIELDS)
        return tuple(dict.fromkeys(hits)) if hits else ()

    def terms(self) -> tuple[str, ...]:
        """The distinct terms and phrases that can explain a match, rendered (``leader*``)."""
        return tuple(dict.fromkeys(leaf.render() for leaf in self.ast.leaves()))

    @property
    def version(self) -> str:
        """A short hash of what decides matching (text and spelling): the profile version."""
        data = f"{self.spelling}\n{self.text.strip()}".encode()
        return hashlib.sha256(data).hexdigest()[:16]

    def score(self, item: ItemText | Document, hits: Hits, *,
              published: datetime | None = None, now: datetime | None = None) -> float:
        """The relevance of a match of ``item`` or its ``Document`` (``ranking.score``)."""
        return ranking.score(hits, item, published=published, now=now)


def parse_query(text: str, spelling: str = "none") -> Query:
    """Parse ``text``; raise QuerySyntaxError (with a 1-based column) if it is not valid.

    ``spelling="uk-us"`` makes each word also match its other spelling (``topics.spelling``).
    """
    return _parse(text, spelling)


@lru_cache(maxsize=4096)
def _parse(text: str, spelling: str) -> Query:
    # Queries are immutable, so one compiled query serves every caller: re-reading unchanged
    # topic files costs a dictionary lookup, and an edited file (new text) is parsed afresh.
    return Query(text, Parser(text, spelling).parse(), spelling)


def lint_query(text: str) -> list[str]:
    """Warnings for a valid query (lower-case operators, AND/OR mixed without parentheses).

    The query must parse: syntax errors are raised as by ``parse_query``.
    """
    parser = Parser(text)
    parser.parse()
    return parser.warnings
