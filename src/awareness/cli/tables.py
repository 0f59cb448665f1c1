"""How the columns of a command-line listing share the terminal's width.

Left to itself, rich narrows the widest columns until they are level: at 80 columns
`review list` gave its title twelve characters (a word a line) beside a publisher and a list
of driver slugs as wide, and cut the date of `bulletins list` to "2026-12-…". Here instead:

- a column whose values are all short (a date, a number, an id, a status) keeps each value on
  one line while the other columns have room for their longest words;
- the main column, the one that says what a row is (a title, a name), has at least half the
  width the short columns leave, and never less than ``MAIN_FLOOR`` while they can wrap;
- the other columns of text have their longest words too (at most ``FLOOR``), and then every
  column of text shares what is left in proportion to its longest line.

Nothing is ever cut: a word longer than its column goes on onto the next line. This module
only works the widths out; ``awareness.cli.base.table`` prints with them.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, replace

from rich.cells import cell_len

SHORT = 20  # a value this long or shorter stays on one line: "17 Dec 2026 09:00", "Waiting"
FLOOR = 10  # a column of text is not squeezed below this while there is room: "Department"
MAIN_FLOOR = 16  # nor the main column below this: two or three words of a title a line


@dataclass(frozen=True)
class Measure:
    """What a column needs. ``heading``: its heading's longest word; ``longest``: its longest
    line, heading included; ``whole``: the width that keeps each value on one line (the
    heading may wrap); ``least``: the width it keeps while there is room (a short column's
    longest word, a text column's ``FLOOR``); ``short``: every value is short (``SHORT``)."""

    values: tuple[str, ...]
    heading: int
    longest: int
    whole: int
    least: int
    short: bool


def measure(heading: str, values: list[str]) -> Measure:
    """How wide the column ``heading`` over ``values`` would like to be."""
    widest = max((cell_len(line) for value in values for line in value.splitlines()),
                 default=0)
    heading_word = _longest_word([heading])
    longest = max(widest, cell_len(heading))
    short = widest <= SHORT
    least = max(heading_word, _longest_word(values) if short else min(longest, FLOOR))
    return Measure(tuple(values), heading=heading_word, longest=longest,
                   whole=max(widest, heading_word), least=least, short=short)


def column_widths(columns: list[Measure], room: int, main: int | None) -> list[int] | None:
    """The width of each column (padding and lines left out) when they share ``room``
    characters, the main column being ``columns[main]``; None when every line fits whole,
    as rich prints it anyway."""
    if sum(column.longest for column in columns) <= room:
        return None
    if main is not None and not columns[main].short:
        least = max(columns[main].least, min(columns[main].longest, MAIN_FLOOR))
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
    """How wide ``column`` is with its values wrapped at spaces to ``width``: its longest
    line then, for a width that leaves no blank column of spaces (never under ``least``)."""
    lines = [cell_len(line) for value in column.values for line in textwrap.wrap(value, width)]
    return max([column.least, *lines])


def _text_widths(columns: list[Measure], text: list[int], space: int,
                 main: int | None) -> dict[int, int]:
    """``space`` shared between the columns of ``text``: half to the main column, its
    ``least`` to each other one, then what is left in proportion to their longest lines."""
    widths = {i: columns[i].least for i in text}
    if main in widths:
        widths[main] = min(columns[main].longest, max(widths[main], space // 2))
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
