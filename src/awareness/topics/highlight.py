"""Mark matched words in an item's text: escaped HTML with ``<mark>``, snippets; and mark the
character a query's problem points at (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from markupsafe import Markup, escape

from awareness.model import Hit
from awareness.topics.text import words

# A word as written, apostrophes inside it included: it normalises to one or more words.
_RAW_WORD = re.compile(r"[^\W_]+(?:['’‘ʼ][^\W_]+)*")
ELLIPSIS = "…"
# The line under a quoted query line that points at a column: spaces, then a caret.
_CARET_LINE = re.compile(r"( *)\^")
NO_BREAK_SPACE = "\u00a0"


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """Each normalised word of ``text`` with the span of the written word it came from."""
    return [(word, raw.start(), raw.end()) for raw in _RAW_WORD.finditer(text)
            for word in _written_words(raw.group())]


@lru_cache(maxsize=16_384)
def _written_words(raw: str) -> tuple[str, ...]:
    return tuple(words(raw))


def mark_spans(text: str, hits: Iterable[Hit], field: str) -> list[tuple[int, int]]:
    """Character spans of ``text`` where the hits of ``field`` occur, sorted and merged."""
    runs: dict[str, set[tuple[str, ...]]] = {}  # by first word: only there can a run start
    for hit in hits:
        run = tuple(hit.word.split())
        if hit.field == field and run:
            runs.setdefault(run[0], set()).add(run)
    if not runs:
        return []
    tokens = _tokens(text)
    said = [token[0] for token in tokens]
    spans: list[tuple[int, int]] = []
    for at, word in enumerate(said):
        for run in runs.get(word, ()):
            if tuple(said[at:at + len(run)]) == run:
                spans.append((tokens[at][1], tokens[at + len(run) - 1][2]))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, hits: Iterable[Hit], field: str, max_chars: int | None = None,
              context: int = 80) -> Markup:
    """``text`` as escaped HTML with the hits of ``field`` in ``<mark>``.

    With ``max_chars``, a longer text is cut to a snippet of about that length that starts
    ``context`` characters before the first hit (at a word boundary), with … at cut ends.
    """
    spans = mark_spans(text, hits, field)
    start, end = 0, len(text)
    if max_chars is not None and len(text) > max_chars:
        first = spans[0][0] if spans else 0
        start = _word_start(text, max(first - context, 0))
        end = _word_end(text, min(start + max_chars, len(text)))
    out = [Markup(ELLIPSIS) if start > 0 else Markup("")]
    at = start
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        out.append(escape(text[at:span_start]))
        out.append(Markup("<mark>") + escape(text[span_start:span_end]) + Markup("</mark>"))
        at = span_end
    out.append(escape(text[at:end]))
    if end < len(text):
        out.append(Markup(ELLIPSIS))
    return Markup("").join(out)


def _word_start(text: str, at: int) -> int:
    while 0 < at < len(text) and not text[at - 1].isspace():
        at -= 1
    return at


def _word_end(text: str, at: int) -> int:
    while at < len(text) and not text[at].isspace():
        at += 1
    return at


def highlight_stored(text: str, hit_rows: Iterable[dict[str, str]], field: str,
                     max_chars: int | None = None) -> Markup:
    """``highlight`` for hits in their stored form (``Match.hits``: term, field, word dicts).

    For templates: ``{{ match.summary|highlight(match.hits, "summary", 700) }}``.
    """
    hits = [Hit(row.get("term", ""), row.get("field", ""), row.get("word", ""))
            for row in hit_rows if isinstance(row, dict)]
    return highlight(text, hits, field, max_chars=max_chars)


def mark_caret(text: str) -> Markup:
    """``text`` as escaped HTML, each caret line (``    ^``, under the query line it points
    into) dropped and the character it points at marked in that line instead, as
    ``<mark class="at-fault">``. A caret only stands under its character while neither line
    wraps, which no page can promise on a phone; a marked character stays itself at any
    width. A caret past the line's end marks a space there: what is missing."""
    lines = text.split("\n")
    out: list[Markup] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        caret = _CARET_LINE.fullmatch(lines[index + 1]) if index + 1 < len(lines) else None
        if caret is None:
            out.append(escape(line))
            index += 1
            continue
        at = len(caret[1])
        out.append(escape(line[:at]) + Markup('<mark class="at-fault">')
                   + escape(line[at:at + 1] or NO_BREAK_SPACE) + Markup("</mark>")
                   + escape(line[at + 1:]))
        index += 2
    return Markup("\n").join(out)
