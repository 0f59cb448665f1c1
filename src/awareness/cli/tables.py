"""How the columns of a command-line listing share the terminal's width.

Left to itself, rich narrows the widest columns until they are level: at 80 columns
`review list` gave its title twelve characters (a word a line) beside a publisher and a list
of driver slugs as wide, and cut the date of `bulletins list` to "2026-12-…"; and it breaks a
word wherever the column ends ("Departmen" over "t of Health", "developi" over "ng-people").
Here instead:

- a column whose values are all short (a date, a number, an id, a status) keeps each value on
  one line while the other columns have room for their longest words;
- the other columns of text break their lines only between words, or inside a word after a
  hyphen or a slash ("developing-" over "people-plan"), each keeping its longest word (up to
  ``WORD_MOST``; at least ``FLOOR``);
- the main column, the one that says what a row is (a title, a name), has at least half the
  width the short columns leave, once the others have their words, and never less than
  ``MAIN_FLOOR`` while they can wrap; every column of text then shares what is left in
  proportion to its longest line;
- a column of things to copy whole (a slug, an e-mail address) is kept on one line like a
  short one;
- when even that is too wide for the terminal, the listing's ``optional`` columns (the least
  useful first: a score, a count) are left out, one at a time, until it fits; the command
  says which under the table.

Nothing is ever cut: a word longer than its column (or every column, on a terminal too narrow
even without the optional ones) goes on onto the next line. This module only works the
layout out and wraps the text; ``awareness.cli.base.table`` prints it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rich.cells import cell_len, chop_cells

SHORT = 20  # a value this long or shorter stays on one line: "17 Dec 2026 09:00", "Waiting"
FLOOR = 10  # a column of text is not squeezed below this while there is room: "Department"
MAIN_FLOOR = 16  # nor the main column below this: two or three words of a title a line
WORD_MOST = 20  # a column of text keeps its longest piece of a word whole up to this long
_WORD = re.compile(r"(\s*)(\S+)")  # a word, with the spaces before it
# The pieces of a word a line may break between: up to each hyphen or slash with more of
# the word before and after it ("developing-", "people-", "plan"; "https:/", "/gov.uk/").
_PIECE_OF_WORD = re.compile(r".+?[-/](?=.)|.+")


@dataclass(frozen=True)
class Measure:
    """What a column needs. ``heading``: its heading's longest word; ``longest``: its longest
    line, heading included; ``whole``: the width that keeps each value on one line (the
    heading may wrap); ``least``: the width it keeps while there is room (a short column's
    longest word; a text column's longest piece of a word, ``pieces``, at least ``FLOOR`` and
    at most ``WORD_MOST``); ``short``: every value is short (``SHORT``)."""

    values: tuple[str, ...]
    heading: int
    longest: int
    whole: int
    least: int
    short: bool


def measure(heading: str, values: list[str], *, whole: bool = False) -> Measure:
    """How wide the column ``heading`` over ``values`` would like to be. A ``whole`` column
    (a slug, an address: something to copy) is never wrapped while the table can leave out
    an optional column instead, as a short one is not."""
    widest = max((cell_len(line) for value in values for line in value.splitlines()),
                 default=0)
    heading_word = _longest_word([heading])
    longest = max(widest, cell_len(heading))
    if whole:
        width = max(widest, heading_word)
        return Measure(tuple(values), heading=heading_word, longest=longest, whole=width,
                       least=width, short=True)
    short = widest <= SHORT
    piece = max((cell_len(p) for value in values for p in pieces(value)), default=0)
    least = max(heading_word, _longest_word(values) if short
                else min(longest, max(FLOOR, min(piece, WORD_MOST))))
    return Measure(tuple(values), heading=heading_word, longest=longest,
                   whole=max(widest, heading_word), least=least, short=short)


@dataclass(frozen=True)
class Layout:
    """How a table is printed: the columns ``shown`` (indexes, in order), and their widths
    (None: as rich lays them out, every line fitting whole)."""

    shown: list[int]
    widths: list[int] | None


def lay_out(columns: list[Measure], width: int, main: int | None,
            optional: Sequence[int] = ()) -> Layout:
    """The columns shown on a terminal ``width`` characters wide, and their widths: every
    column while each can keep its words whole (``least``), else without the ``optional``
    ones, in their order, until the rest can (or none is left to leave out)."""
    shown = list(range(len(columns)))
    for leaving in optional:
        if _fits(columns, shown, width, main):
            break
        shown.remove(leaving)
    kept = [columns[i] for i in shown]
    widths = column_widths(kept, _room(width, len(shown)),
                           shown.index(main) if main in shown else None)
    return Layout(shown, widths)


def _room(width: int, count: int) -> int:
    return width - (3 * count + 1)  # a space either side of each column, and the lines


def _fits(columns: list[Measure], shown: list[int], width: int, main: int | None) -> bool:
    """Can the columns ``shown`` each keep their ``least`` (the main one its floor)?"""
    return sum(_main_least(columns[i]) if i == main else columns[i].least
               for i in shown) <= _room(width, len(shown))


def _main_least(column: Measure) -> int:
    """The main column's ``least``: at least ``MAIN_FLOOR``, or all it needs."""
    return column.least if column.short else max(column.least,
                                                 min(column.longest, MAIN_FLOOR))


def pieces(text: str) -> list[str]:
    """The pieces ``text`` may break between: its words, each broken after every hyphen or
    slash with more of the word on either side."""
    return [piece for word in text.split() for piece in _PIECE_OF_WORD.findall(word)]


def wrap(text: str, width: int) -> str:
    """``text`` wrapped to ``width``: each of its lines broken between words; a word too long
    for a line of its own after each hyphen or slash in it, as far as the line goes; a piece
    of a word longer than ``width`` folded (the one place a word is broken). A line's
    indent is kept where it fits."""
    return "\n".join(line for part in text.split("\n") for line in _wrap_line(part, width))


def _wrap_line(line: str, width: int) -> list[str]:
    lines: list[str] = []
    current = line[:len(line) - len(line.lstrip())]  # the indent
    for space, word in _WORD.findall(line):
        joined = current + space + word if current.strip() else current + word
        if cell_len(joined) <= width:
            current = joined
            continue
        if current.strip():
            lines.append(current.rstrip())
        current = ""
        for piece in _PIECE_OF_WORD.findall(word):  # a word that a line cannot hold
            if cell_len(current + piece) > width and current:
                lines.append(current)
                current = ""
            *folded, current = chop_cells(current + piece, width)
            lines.extend(folded)
    return [*lines, current.rstrip()]


def column_widths(columns: list[Measure], room: int, main: int | None) -> list[int] | None:
    """The width of each column (padding and lines left out) when they share ``room``
    characters, the main column being ``columns[main]``; None when every line fits whole,
    as rich prints it anyway."""
    if sum(column.longest for column in columns) <= room:
        return None
    if main is not None:
        least = _main_least(columns[main])
        columns = [*columns[:main], replace(columns[main], least=least), *columns[main + 1:]]
    short = _short_widths(columns, room)
    text = [i for i in range(len(columns)) if i not in short]
    widths = short | _text_widths(columns, text, room - sum(short.values()), main)
    while sum(widths.values()) > room and max(widths.values()) > 1:
        widths[max(widths, key=widths.__getitem__)] -= 1  # far too narrow: all fold
    return [max(1, widths[i]) for i in range(len(columns))]


def _short_widths(columns: list[Measure], room: int) -> dict[int, int]:
    """The short columns' widths: a value a line, unless the columns of text would then
    lack their ``least``; then the widest that can wrap at a space does, first
    ("7 Dec 2026 18:08" becomes "7 Dec 2026" over "18:08")."""
    widths = {i: column.whole for i, column in enumerate(columns) if column.short}
    need = sum(column.least for column in columns if not column.short)
    while sum(widths.values()) + need > room:
        wrappable = [i for i in widths if widths[i] > columns[i].least]
        if not wrappable:
            break
        narrowed = max(wrappable, key=widths.__getitem__)
        widths[narrowed] = _wrapped(columns[narrowed], widths[narrowed] - 1)
    return widths


def _wrapped(column: Measure, width: int) -> int:
    """How wide ``column`` is with its values wrapped to ``width`` (``wrap``): its longest
    line then, for a width that leaves no blank column of spaces (never under ``least``)."""
    lines = [cell_len(line) for value in column.values
             for line in wrap(value, width).splitlines()]
    return max([column.least, *lines])


def _text_widths(columns: list[Measure], text: list[int], space: int,
                 main: int | None) -> dict[int, int]:
    """``space`` shared between the columns of ``text``: its ``least`` to each other one,
    half to the main column (or what they leave, if less), then what is left in proportion
    to their longest lines."""
    widths = {i: columns[i].least for i in text}
    if main in widths:
        others = sum(width for i, width in widths.items() if i != main)
        half = min(space // 2, space - others)
        widths[main] = min(columns[main].longest, max(widths[main], half))
    _give_way(widths, columns, space, main)
    for _ in range(space - sum(widths.values())):
        growing = [i for i in text if widths[i] < columns[i].longest]
        if not growing:
            break
        widths[min(growing, key=lambda i: widths[i] / columns[i].longest)] += 1
    return widths


def _give_way(widths: dict[int, int], columns: list[Measure], space: int,
              main: int | None) -> None:
    """Narrow ``widths`` to ``space`` when there is too little even for their start: the
    widest column other than the main one gives way, down to its heading's longest word and
    then further; the main column last."""
    for floor in ("heading", "any"):
        while sum(widths.values()) > space:
            others = [i for i in widths if i != main
                      and widths[i] > (columns[i].heading if floor == "heading" else 1)]
            if not others:
                break
            widths[max(others, key=widths.__getitem__)] -= 1
    while main in widths and sum(widths.values()) > space and widths[main] > 1:
        widths[main] -= 1


def _longest_word(texts: list[str]) -> int:
    return max((cell_len(word) for text in texts for word in text.split()), default=1)
