"""Lexer and parser of the topic query language (pure).

    query     := or_expr
    or_expr   := and_expr ("OR" and_expr)*
    and_expr  := near_expr (("AND" | "NOT" | "AND NOT" | <nothing>) near_expr)*
    near_expr := operand (("NEAR/n" | "Nn") operand)*
    operand   := [field ":"] (word | "phrase" | "(" or_expr ")")

NOT is binary (``a NOT b`` means a AND NOT b), so every match has at least one hit to show.
Every error is a QuerySyntaxError with the 1-based column of the problem and what was expected.
"""

from __future__ import annotations

import re
from typing import NamedTuple, NoReturn

from awareness.errors import QuerySyntaxError
from awareness.topics import spelling as spellings
from awareness.topics.nodes import (
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Positional,
    Term,
    is_positional,
)
from awareness.topics.text import FIELDS, WILDCARDS, WordPattern, normalise

MAX_NESTING = 32
MAX_DISTANCE = 100
_QUOTES = "\"“”"
_OPERATORS = frozenset({"AND", "OR", "NOT"})
_NEAR = re.compile(r"NEAR(?:/(\d+))?(.*)")
_EBSCO_NEAR = re.compile(r"N(\d+)")
# EBSCOhost's field codes, as librarians paste them (``TI nurs* AND SU midwif*``): the ones
# with a field here, and the common ones without, which are refused rather than searched as
# words (they used to match nothing, silently).
EBSCO_FIELDS = {"TI": "title", "AB": "summary", "SU": "category", "SO": "source"}
_EBSCO_UNSUPPORTED = {
    "AU": "author", "KW": "author-supplied keywords", "MH": "exact MeSH heading",
    "MJ": "major MeSH heading", "TX": "all text", "DE": "descriptors", "AN": "accession number",
    "PT": "publication type", "LA": "language", "JN": "journal name", "IS": "ISSN",
    "IB": "ISBN", "SH": "subject heading", "AF": "author affiliation", "ZC": "document type"}
_FIELD_PREFIX = re.compile(r"([A-Za-z]+):")
_LOWERCASE_OPERATORS = frozenset({"and", "or", "not"})
# A query word: letters, digits and wildcards; * is handled separately.
_PATTERN_WORD = re.compile(r"(?:[^\W_]|[?#])+")


class Token(NamedTuple):
    """One token: WORD, PHRASE, LPAREN, RPAREN, AND, OR, NOT, NEAR, FIELD or END."""

    kind: str
    text: str
    column: int
    distance: int = 0


def fail(query: str, column: int, message: str) -> NoReturn:
    """Raise the QuerySyntaxError for ``message`` at ``column``."""
    raise QuerySyntaxError(message, query=query, column=column)


def tokens(text: str, warnings: list[str]) -> list[Token]:
    """The tokens of ``text``, ending with END; lint warnings are appended to ``warnings``."""
    found: list[Token] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char.isspace():
            at += 1
        elif char in "()":
            found.append(Token("LPAREN" if char == "(" else "RPAREN", char, at + 1))
            at += 1
        elif char in _QUOTES:
            end = next((i for i in range(at + 1, len(text)) if text[i] in _QUOTES), -1)
            if end < 0:
                fail(text, at + 1, "unbalanced quote: this phrase is never closed; "
                                   'expected a closing "')
            found.append(Token("PHRASE", text[at + 1:end], at + 1))
            at = end + 1
        else:
            end = at
            while end < len(text) and not (text[end].isspace() or text[end] in "()" + _QUOTES):
                end += 1
            found.extend(_bare_tokens(text, text[at:end], at + 1, warnings))
            at = end
    found.append(Token("END", "", len(text) + 1))
    return found


def _bare_tokens(query: str, bare: str, column: int, warnings: list[str]) -> list[Token]:
    if bare in _OPERATORS:
        return [Token(bare, bare, column)]
    if near := _NEAR.fullmatch(bare):
        if near[1] is None or near[2]:
            fail(query, column, "NEAR without a distance: write NEAR/n, where n is the most "
                                "words allowed between the two terms (NEAR/3)")
        return [Token("NEAR", bare, column, _distance(query, column, int(near[1])))]
    if prefix := _FIELD_PREFIX.match(bare):
        name = prefix[1].lower()
        if name not in FIELDS:
            fail(query, column, f"unknown field '{prefix[1]}:'; expected one of "
                                + ", ".join(f + ":" for f in FIELDS))
        rest = bare[prefix.end():]
        after = _bare_tokens(query, rest, column + prefix.end(), warnings) if rest else []
        return [Token("FIELD", name, column), *after]
    if bare.lower() in _LOWERCASE_OPERATORS:
        warnings.append(f"'{bare}' at column {column} is searched as a word; operators are "
                        f"upper case: write {bare.upper()} for the operator, or put "
                        f"'{bare}' in a phrase to silence this warning")
    return [Token("WORD", bare, column)]


def _distance(query: str, column: int, distance: int) -> int:
    if distance > MAX_DISTANCE:
        fail(query, column, f"NEAR distance {distance} is too large; at most {MAX_DISTANCE}")
    return distance


def chunk_patterns(query: str, chunk: str, column: int) -> list[WordPattern]:
    """The patterns of one whitespace-free chunk: its words, the last truncated if it ends in *."""
    for offset, char in enumerate(chunk):
        if char == "*" and offset < len(chunk) - 1:
            fail(query, column + offset, "* is truncation and must end a word (leader*)")
    truncated = chunk.endswith("*")
    body = chunk[:-1] if truncated else chunk
    found = _PATTERN_WORD.findall(normalise(body))
    for word in found:
        if word[0] in WILDCARDS:
            at = _wildcard_start(chunk, column)
            fail(query, at, f"wildcard at the start of a word: '{word}' needs a letter or digit "
                            f"before the {word[0]} (organi?ation, colo#r)")
    if truncated:
        stem = normalise(body)
        letters = sum(1 for char in found[-1] if char not in WILDCARDS) if found else 0
        if not found or not _PATTERN_WORD.fullmatch(stem[-1:]) or letters < 3:
            fail(query, column, f"truncation too short: '{chunk}' needs at least 3 letters or "
                                "digits directly before the *")
    patterns = [WordPattern(word) for word in found]
    if truncated:
        patterns[-1] = WordPattern(found[-1], truncated=True)
    return patterns


def _wildcard_start(chunk: str, column: int) -> int:
    """The column of the first wildcard that starts a word in ``chunk``."""
    for offset, char in enumerate(chunk):
        if char in WILDCARDS and (offset == 0 or not chunk[offset - 1].isalnum()):
            return column + offset
    return column


def phrase_patterns(query: str, token: Token) -> list[WordPattern]:
    """The patterns of a quoted phrase; an empty phrase is an error."""
    patterns: list[WordPattern] = []
    for match in re.finditer(r"\S+", token.text):
        patterns += chunk_patterns(query, match.group(), token.column + 1 + match.start())
    if not patterns:
        fail(query, token.column, "empty phrase: expected words between the quotes")
    return patterns


_OPERAND_STARTS = frozenset({"WORD", "PHRASE", "LPAREN", "FIELD"})


class Parser:
    """Recursive descent over the token list; collects lint warnings as it goes."""

    def __init__(self, text: str, spelling: str = "none"):
        self.text = text
        self.spelling = spelling
        self.warnings: list[str] = []
        self.tokens = tokens(text, self.warnings)
        self.at = 0
        self.depth = 0
        self._ebsco_near()
        self._ebsco_fields()

    def _ebsco_near(self) -> None:
        """Read ``N3`` as NEAR/3 where an operator can stand: between two operands."""
        for index, token in enumerate(self.tokens[1:-1], 1):
            match = _EBSCO_NEAR.fullmatch(token.text)
            before, after = self.tokens[index - 1], self.tokens[index + 1]
            if (token.kind == "WORD" and match and before.kind in ("WORD", "PHRASE", "RPAREN")
                    and after.kind in _OPERAND_STARTS):
                distance = _distance(self.text, token.column, int(match[1]))
                self.tokens[index] = Token("NEAR", token.text, token.column, distance)
                if distance >= 10:  # N95, N10: more likely a product or a name than proximity
                    self.warnings.append(
                        f"'{token.text}' at column {token.column} is read as NEAR/{distance}; "
                        f'write "{token.text}" in quotes to search for the word, or '
                        f"NEAR/{distance} to silence this warning")

    def _ebsco_fields(self) -> None:
        """Read EBSCOhost's ``TI``, ``AB``, ``SU`` and ``SO`` before an operand as field limits
        over everything up to the next operator, as EBSCOhost does (``TI nurse staffing`` is
        ``title:(nurse staffing)``); refuse its other field codes with a located error."""
        index = 0
        while index < len(self.tokens) - 1:
            token, after = self.tokens[index], self.tokens[index + 1]
            code = token.text
            if token.kind == "WORD" and after.kind in _OPERAND_STARTS and (
                    code in EBSCO_FIELDS or code in _EBSCO_UNSUPPORTED):
                if code in _EBSCO_UNSUPPORTED:
                    fail(self.text, token.column,
                         f"EBSCOhost field code {code} ({_EBSCO_UNSUPPORTED[code]}) has no "
                         "field here; use TI (title), AB (abstract: the summary), "
                         "SU (subjects: the categories) or SO (source), or write "
                         f'"{code}" in quotes to search for the word')
                end = index + 1
                while self.tokens[end].kind in ("WORD", "PHRASE", "NEAR"):
                    end += 1
                field = Token("FIELD", EBSCO_FIELDS[code], token.column)
                if end - index > 2:  # several words: the limit covers them all
                    self.tokens[index:end] = [
                        field, Token("LPAREN", "(", after.column),
                        *self.tokens[index + 1:end],
                        Token("RPAREN", ")", self.tokens[end - 1].column)]
                else:
                    self.tokens[index] = field
            index += 1

    def parse(self) -> Node:
        """The AST of the whole query."""
        if self.tokens[0].kind == "END":
            fail(self.text, 1, "empty query: expected at least one term")
        node = self._or_expr()
        if self._peek().kind == "RPAREN":
            fail(self.text, self._peek().column,
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
        operands = [self._near_expr()]
        while True:
            kind = self._peek().kind
            if kind == "AND":
                self._take()
                if self._peek().kind == "NOT":  # "a AND NOT b" is how many people write NOT
                    self._take()
                    operands.append(Not(self._near_expr()))
                else:
                    operands.append(self._near_expr())
            elif kind == "NOT":
                self._take()
                operands.append(Not(self._near_expr()))
            elif kind in _OPERAND_STARTS:
                operands.append(self._near_expr())
            else:
                break
        node = operands[0] if len(operands) == 1 else And(tuple(operands))
        return node, len(operands) - 1

    def _near_expr(self) -> Node:
        start = self._peek()
        node = self._operand()
        while self._peek().kind == "NEAR":
            near = self._take()
            right_start = self._peek()
            right = self._operand()
            left = self._positional(node, start, near)
            node = Near(left, self._positional(right, right_start, near), near.distance)
        return node

    def _positional(self, node: Node, start: Token, near: Token) -> Positional:
        if not is_positional(node) or not isinstance(node, Positional):
            what = "a field limit" if isinstance(node, Field) else "AND or NOT"
            fail(self.text, start.column,
                 f"{near.text} needs a term, truncation, phrase or OR-group on each side, not "
                 f"{what}; put a field limit around the whole NEAR (title:(a NEAR/3 b))")
        return node

    def _operand(self) -> Node:
        token = self._peek()
        if token.kind == "FIELD":
            self._take()
            if self._peek().kind not in _OPERAND_STARTS - {"FIELD"}:
                fail(self.text, token.column, f"expected a term, phrase or '(' after "
                                              f"{token.text}:")
            return Field(token.text, self._operand())
        if token.kind == "WORD":
            self._take()
            patterns = self._spelt(chunk_patterns(self.text, token.text, token.column))
            if not patterns:
                fail(self.text, token.column, f"'{token.text}' has no letters or digits: "
                                              "expected a term; leave punctuation out")
            return Term(patterns[0]) if len(patterns) == 1 else Phrase(tuple(patterns))
        if token.kind == "PHRASE":
            self._take()
            return Phrase(tuple(self._spelt(phrase_patterns(self.text, token))))
        if token.kind == "LPAREN":
            return self._group()
        self._no_operand(token)

    def _spelt(self, patterns: list[WordPattern]) -> list[WordPattern]:
        if self.spelling == "none":
            return patterns
        return [WordPattern(p.stem, p.truncated, spellings.variants(p.stem, self.spelling))
                for p in patterns]

    def _group(self) -> Node:
        opening = self._take()
        self.depth += 1
        if self.depth > MAX_NESTING:
            fail(self.text, opening.column,
                 f"parentheses nested too deeply (more than {MAX_NESTING} levels)")
        node = self._or_expr()
        if self._peek().kind != "RPAREN":
            fail(self.text, opening.column,
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
            fail(self.text, token.column, f"{what} cannot start with NOT: write what to search "
                                          "for first, then NOT (flu NOT vaccine*)")
        if opens and token.kind in _OPERATORS | {"NEAR"}:
            fail(self.text, token.column, "dangling operator: expected a term, phrase or '(' "
                                          f"before {token.text}")
        if before is None:
            fail(self.text, token.column, "unbalanced parenthesis: this ')' has no matching '('")
        if before.kind == "LPAREN" and token.kind == "END":
            fail(self.text, before.column,
                 "unbalanced parenthesis: this '(' is never closed; expected ')'")
        if before.kind == "LPAREN":
            fail(self.text, before.column, "empty parentheses: expected a term, phrase or '(' "
                                           "inside them")
        found = "the end of the query" if token.kind == "END" else f"'{token.text}'"
        hint = "; NOT joins two things: write a NOT b" if token.kind == "NOT" else ""
        fail(self.text, before.column, "dangling operator: expected a term, phrase or '(' "
                                       f"after {before.text}, found {found}{hint}")
