"""The topic query language: text model, parser, AST and matcher (pure).

The contract is docs/search-language.md. In short::

    query    := or_expr
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := operand (("AND" | "NOT" | "AND NOT" | <nothing>) operand)*
    operand  := word | word* | "phrase" | "(" or_expr ")"

NOT is binary (``a NOT b`` means a AND NOT b), so every match has at least one hit to show.
Issue 4 extends this rather than replacing it: NEAR/n becomes a level between ``and_expr`` and
``operand`` (a new ``Near`` node), field limits a new operand form (a node that narrows the
``fields`` passed to ``evaluate``), and ``?``/``#`` new kinds of ``WordPattern``. Until then
those spellings are rejected, so no query that is valid today changes meaning tomorrow.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, NoReturn

from awareness.errors import QuerySyntaxError
from awareness.model import Hit, ItemText

# ---------------------------------------------------------------- text model

_WORD = re.compile(r"[^\W_]+")
# Straight, curly and modifier-letter apostrophes; ‘ too, because word processors produce it.
_INNER_APOSTROPHE = re.compile(r"(?<=[^\W_])['’‘ʼ](?=[^\W_])")

DEFAULT_FIELDS = ("title", "summary", "category")


def normalise(text: str) -> str:
    """NFKC, case-fold, strip accents and drop apostrophes inside words (King’s → kings)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isascii():
        decomposed = unicodedata.normalize("NFD", text)
        bases = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        text = unicodedata.normalize("NFC", bases)
    return _INNER_APOSTROPHE.sub("", text)


def words(text: str) -> list[str]:
    """The words of ``text`` as the matcher sees them: runs of letters and digits, normalised."""
    return _WORD.findall(normalise(text))


class Document:
    """An item's searchable fields, normalised once; each field is a tuple of segments.

    A phrase never spans two segments: each category is its own segment.
    """

    __slots__ = ("segments", "vocabulary")

    def __init__(self, segments: dict[str, tuple[tuple[str, ...], ...]]):
        self.segments = segments
        self.vocabulary = {
            name: frozenset(word for segment in parts for word in segment)
            for name, parts in segments.items()
        }


@lru_cache(maxsize=4096)
def document(item: ItemText) -> Document:
    """The normalised form of ``item``, cached so many topics share one tokenisation."""
    return Document({
        "title": (tuple(words(item.title)),),
        "summary": (tuple(words(item.summary)),),
        "category": tuple(tuple(words(category)) for category in item.categories),
    })


# ---------------------------------------------------------------- AST


@dataclass(frozen=True)
class WordPattern:
    """One query word, already normalised: exact, or truncated (``leader*``)."""

    stem: str
    truncated: bool = False

    def matches(self, word: str) -> bool:
        """Does this pattern accept the (normalised) ``word``?"""
        return word.startswith(self.stem) if self.truncated else word == self.stem

    def words_in(self, vocabulary: frozenset[str]) -> list[str]:
        """The words of ``vocabulary`` this pattern accepts, sorted so hits are deterministic."""
        if not self.truncated:
            return [self.stem] if self.stem in vocabulary else []
        return sorted(word for word in vocabulary if word.startswith(self.stem))

    def __str__(self) -> str:
        return self.stem + ("*" if self.truncated else "")


Hits = tuple[Hit, ...]


class Node:
    """Base of the AST. ``evaluate`` returns the hits, or None when the node does not match."""

    def evaluate(self, doc: Document, fields: tuple[str, ...]) -> Hits | None:
        """Match this node against ``doc``, searching only ``fields``."""
        raise NotImplementedError

    def leaves(self) -> Iterator[Term | Phrase]:
        """The terms and phrases that can contribute hits (those under NOT cannot)."""
        raise NotImplementedError

    def render(self) -> str:
        """The node as a fully parenthesised query that parses back to an equal node."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class Term(Node):
    """A single word or truncation."""

    pattern: WordPattern

    def evaluate(self, doc: Document, fields: tuple[str, ...]) -> Hits | None:
        """One hit per field and distinct matching word."""
        term = self.render()
        hits = tuple(
            Hit(term, name, word)
            for name in fields
            for word in self.pattern.words_in(doc.vocabulary.get(name, frozenset()))
        )
        return hits or None

    def leaves(self) -> Iterator[Term | Phrase]:
        """Just this term."""
        yield self

    def render(self) -> str:
        """``leader*``."""
        return str(self.pattern)


@dataclass(frozen=True)
class Phrase(Node):
    """Consecutive words in one segment of one field."""

    patterns: tuple[WordPattern, ...]

    def evaluate(self, doc: Document, fields: tuple[str, ...]) -> Hits | None:
        """One hit per field and distinct matching run of words."""
        term = self.render()
        hits: list[Hit] = []
        for name in fields:
            if self._could_match(doc.vocabulary.get(name, frozenset())):
                for run in self._runs(doc.segments.get(name, ())):
                    hits.append(Hit(term, name, run))
        return tuple(dict.fromkeys(hits)) or None

    def _could_match(self, vocabulary: frozenset[str]) -> bool:
        # Cheap rejection: every exact word of the phrase must occur somewhere in the field.
        return all(p.truncated or p.stem in vocabulary for p in self.patterns)

    def _runs(self, segments: tuple[tuple[str, ...], ...]) -> Iterator[str]:
        width = len(self.patterns)
        for segment in segments:
            for start in range(len(segment) - width + 1):
                window = segment[start:start + width]
                if all(p.matches(w) for p, w in zip(self.patterns, window, strict=True)):
                    yield " ".join(window)

    def leaves(self) -> Iterator[Term | Phrase]:
        """Just this phrase."""
        yield self

    def render(self) -> str:
        """``"talent management"``."""
        return '"' + " ".join(str(p) for p in self.patterns) + '"'


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

    def render(self) -> str:
        """``NOT x``."""
        return "NOT " + _group(self.operand)


@dataclass(frozen=True)
class And(Node):
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

    def leaves(self) -> Iterator[Term | Phrase]:
        """The leaves of every operand."""
        for operand in self.operands:
            yield from operand.leaves()

    def render(self) -> str:
        """``a AND b NOT c``."""
        parts = [_group(self.operands[0])]
        for operand in self.operands[1:]:
            parts.append(operand.render() if isinstance(operand, Not) else "AND " + _group(operand))
        return " ".join(parts)


@dataclass(frozen=True)
class Or(Node):
    """Any operand matches; hits are those of every operand that matched."""

    operands: tuple[Node, ...]

    def evaluate(self, doc: Document, fields: tuple[str, ...]) -> Hits | None:
        """Evaluates every branch so that the explanation is complete."""
        results = [operand.evaluate(doc, fields) for operand in self.operands]
        matched = [hits for hits in results if hits is not None]
        return tuple(hit for hits in matched for hit in hits) if matched else None

    def leaves(self) -> Iterator[Term | Phrase]:
        """The leaves of every operand."""
        for operand in self.operands:
            yield from operand.leaves()

    def render(self) -> str:
        """``a OR (b AND c)``."""
        return " OR ".join(_group(operand) for operand in self.operands)


def _group(node: Node) -> str:
    return f"({node.render()})" if isinstance(node, And | Or) else node.render()


@dataclass(frozen=True)
class Query:
    """A parsed topic query: the text as written and its AST."""

    text: str
    ast: Node

    def match(self, item: ItemText) -> Hits:
        """The hits that make ``item`` match, in query order; an empty tuple means no match."""
        hits = self.ast.evaluate(document(item), DEFAULT_FIELDS)
        return tuple(dict.fromkeys(hits)) if hits else ()

    def terms(self) -> tuple[str, ...]:
        """The distinct terms and phrases that can explain a match, rendered (``leader*``)."""
        return tuple(dict.fromkeys(leaf.render() for leaf in self.ast.leaves()))


# ---------------------------------------------------------------- lexer

MAX_NESTING = 32
_QUOTES = "\"“”"
_OPERATORS = frozenset({"AND", "OR", "NOT"})
_RESERVED_NEAR = re.compile(r"NEAR(/.*)?")
_FIELD_PREFIX = re.compile(r"[A-Za-z]+:")
_LOWERCASE_OPERATORS = frozenset({"and", "or", "not"})


class Token(NamedTuple):
    """One lexical token: kind is WORD, PHRASE, LPAREN, RPAREN, AND, OR, NOT or END."""

    kind: str
    text: str
    column: int


def _tokens(text: str, warnings: list[str]) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char.isspace():
            at += 1
        elif char in "()":
            tokens.append(Token("LPAREN" if char == "(" else "RPAREN", char, at + 1))
            at += 1
        elif char in _QUOTES:
            end = next((i for i in range(at + 1, len(text)) if text[i] in _QUOTES), -1)
            if end < 0:
                _fail(text, at + 1, "unbalanced quote: this phrase is never closed; "
                                    'expected a closing "')
            tokens.append(Token("PHRASE", text[at + 1:end], at + 1))
            at = end + 1
        else:
            end = at
            while end < len(text) and not (text[end].isspace() or text[end] in "()" + _QUOTES):
                end += 1
            tokens.append(_bare_token(text, text[at:end], at + 1, warnings))
            at = end
    tokens.append(Token("END", "", len(text) + 1))
    return tokens


def _bare_token(query: str, bare: str, column: int, warnings: list[str]) -> Token:
    if bare in _OPERATORS:
        return Token(bare, bare, column)
    if _RESERVED_NEAR.fullmatch(bare):
        _fail(query, column, "proximity (NEAR/n) is not supported yet; use AND for now")
    if _FIELD_PREFIX.match(bare):
        _fail(query, column, f"field limits such as {bare.split(':')[0]}: are not supported yet; "
                             "unqualified terms search title, summary and category")
    if bare.lower() in _LOWERCASE_OPERATORS:
        warnings.append(f"'{bare}' at column {column} is searched as a word; operators are "
                        f"upper case: write {bare.upper()} for the operator, or put "
                        f"'{bare}' in a phrase to silence this warning")
    return Token("WORD", bare, column)


def _fail(query: str, column: int, message: str) -> NoReturn:
    raise QuerySyntaxError(message, query=query, column=column)


def _chunk_patterns(query: str, chunk: str, column: int) -> list[WordPattern]:
    """The patterns of one whitespace-free chunk: its words, the last truncated if it ends in *."""
    for offset, char in enumerate(chunk):
        if char in "?#":
            _fail(query, column + offset, f"the wildcard {char} is not supported yet; only a "
                                          "trailing * (truncation) is; punctuation is ignored, "
                                          "so leave it out")
        if char == "*" and offset < len(chunk) - 1:
            _fail(query, column + offset, "* is truncation and must end a word (leader*)")
    truncated = chunk.endswith("*")
    found = words(chunk[:-1] if truncated else chunk)
    if truncated:
        stem = normalise(chunk[:-1])
        if not found or not _WORD.fullmatch(stem[-1:]) or len(found[-1]) < 3:
            _fail(query, column, f"truncation too short: '{chunk}' needs at least 3 letters or "
                                 "digits directly before the *")
    patterns = [WordPattern(word) for word in found]
    if truncated:
        patterns[-1] = WordPattern(found[-1], truncated=True)
    return patterns


def _phrase_patterns(query: str, token: Token) -> list[WordPattern]:
    patterns: list[WordPattern] = []
    for match in re.finditer(r"\S+", token.text):
        patterns += _chunk_patterns(query, match.group(), token.column + 1 + match.start())
    if not patterns:
        _fail(query, token.column, "empty phrase: expected words between the quotes")
    return patterns


# ---------------------------------------------------------------- parser

_OPERAND_STARTS = frozenset({"WORD", "PHRASE", "LPAREN"})


class _Parser:
    """Recursive descent over the token list; collects lint warnings as it goes."""

    def __init__(self, text: str):
        self.text = text
        self.warnings: list[str] = []
        self.tokens = _tokens(text, self.warnings)
        self.at = 0
        self.depth = 0

    def parse(self) -> Node:
        if self.tokens[0].kind == "END":
            _fail(self.text, 1, "empty query: expected at least one term")
        node = self._or_expr()
        if self._peek().kind == "RPAREN":
            _fail(self.text, self._peek().column,
                  "unbalanced parenthesis: this ')' has no matching '('")
        return node

    def _peek(self) -> Token:
        return self.tokens[self.at]

    def _take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _or_expr(self) -> Node:
        branch, joins = self._and_expr()
        branches, first_or = [branch], None
        while self._peek().kind == "OR":
            or_token = self._take()
            first_or = first_or or or_token
            branch, more_joins = self._and_expr()
            branches.append(branch)
            joins += more_joins
        if first_or is None:
            return branches[0]
        node = Or(tuple(branches))
        if joins:
            self.warnings.append(
                f"AND and OR mixed without parentheses at column {first_or.column}: this means "
                f"{node.render()}; add parentheses to say so (databases disagree on which "
                "binds first)")
        return node

    def _and_expr(self) -> tuple[Node, int]:
        """One AND-level sequence and how many joins (AND, NOT or adjacency) it used."""
        operands = [self._operand()]
        while True:
            kind = self._peek().kind
            if kind == "AND":
                self._take()
                if self._peek().kind == "NOT":  # "a AND NOT b" is how many people write NOT
                    self._take()
                    operands.append(Not(self._operand()))
                else:
                    operands.append(self._operand())
            elif kind == "NOT":
                self._take()
                operands.append(Not(self._operand()))
            elif kind in _OPERAND_STARTS:
                operands.append(self._operand())
            else:
                break
        node = operands[0] if len(operands) == 1 else And(tuple(operands))
        return node, len(operands) - 1

    def _operand(self) -> Node:
        token = self._peek()
        if token.kind == "WORD":
            self._take()
            patterns = _chunk_patterns(self.text, token.text, token.column)
            if not patterns:
                _fail(self.text, token.column, f"'{token.text}' has no letters or digits: "
                                               "expected a term; leave punctuation out")
            return Term(patterns[0]) if len(patterns) == 1 else Phrase(tuple(patterns))
        if token.kind == "PHRASE":
            self._take()
            return Phrase(tuple(_phrase_patterns(self.text, token)))
        if token.kind == "LPAREN":
            return self._group()
        self._no_operand(token)

    def _group(self) -> Node:
        opening = self._take()
        self.depth += 1
        if self.depth > MAX_NESTING:
            _fail(self.text, opening.column,
                  f"parentheses nested too deeply (more than {MAX_NESTING} levels)")
        node = self._or_expr()
        if self._peek().kind != "RPAREN":
            _fail(self.text, opening.column,
                  "unbalanced parenthesis: this '(' is never closed; expected ')'")
        self._take()
        self.depth -= 1
        return node

    def _no_operand(self, token: Token) -> NoReturn:
        """Raise the error for ``token`` standing where a term, phrase or '(' was expected.

        Only the start of the query, '(' or an operator can come before such a place.
        """
        before = self.tokens[self.at - 1] if self.at else None
        opens = before is None or before.kind == "LPAREN"
        if opens and token.kind == "NOT":
            what = "a query" if before is None else "a parenthesised group"
            _fail(self.text, token.column, f"{what} cannot start with NOT: write what to search "
                                           "for first, then NOT (flu NOT vaccine*)")
        if opens and token.kind in _OPERATORS:
            _fail(self.text, token.column, "dangling operator: expected a term, phrase or '(' "
                                           f"before {token.text}")
        if before is None:
            _fail(self.text, token.column, "unbalanced parenthesis: this ')' has no matching '('")
        if before.kind == "LPAREN" and token.kind == "END":
            _fail(self.text, before.column,
                  "unbalanced parenthesis: this '(' is never closed; expected ')'")
        if before.kind == "LPAREN":
            _fail(self.text, before.column, "empty parentheses: expected a term, phrase or '(' "
                                            "inside them")
        found = "the end of the query" if token.kind == "END" else f"'{token.text}'"
        hint = "; NOT joins two things: write a NOT b" if token.kind == "NOT" else ""
        _fail(self.text, before.column, "dangling operator: expected a term, phrase or '(' "
                                        f"after {before.text}, found {found}{hint}")


def parse_query(text: str) -> Query:
    """Parse ``text``; raise QuerySyntaxError (with a 1-based column) if it is not valid."""
    return Query(text, _Parser(text).parse())


def lint_query(text: str) -> list[str]:
    """Warnings for a valid query (lower-case operators, AND/OR mixed without parentheses).

    The query must parse: syntax errors are raised as by ``parse_query``.
    """
    parser = _Parser(text)
    parser.parse()
    return parser.warnings
