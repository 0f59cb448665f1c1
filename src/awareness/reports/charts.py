"""The report's charts: horizontal bar charts drawn as SVG (issue 17). Pure: rows in, markup
out.

A chart is as wide as the page gives it, and its text is never scaled: the SVG has no
``viewBox``, its bars are drawn in percentages of its width, and each label stands on a
line of its own above its bar, broken between words when it is long. Its text is the size
of the page's small print on a phone as on a desktop or on paper. (Charts drawn 640 units
wide and scaled to the width of a 390 px phone had text of about 7 px, and labels beside
the bars left long names no room for the bars.)

Each chart is accessible and self-contained: no scripts, nothing loaded from anywhere, so
it works under the web app's policy of no scripts and in a report saved as a file; it
carries ``role="img"`` and a ``<title>`` and ``<desc>`` that screen readers announce, and
the page puts the same numbers in a table beside it. Its id is the one given, so the same
figures always draw the same chart.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from html import escape

NHS_BLUE = "#005eb8"
TEXT = "#212b32"
TRACK = "#e8edee"  # the bar's full length, behind it
FONT = 'font-family="Arial, Helvetica, sans-serif"'
TITLE_SIZE = 16
LABEL_SIZE = 14  # px, as rendered: nothing scales it
LINE = 18  # px from one line of a label to the next
BAR = 16
ROW_GAP = 14  # px between a bar and the next label
LONGEST_BAR = 80  # % of the width; the rest holds the value written after the bar
LABEL_CHARACTERS = 40  # a label's line at most: about 320 px at 14 px, inside a phone's width
_ID = re.compile(r"[a-z][a-z0-9-]{0,40}")


def bar_chart(chart_id: str, title: str, description: str,
              rows: Sequence[tuple[str, float]], *, percent: bool = False) -> str:
    """A horizontal bar chart of ``rows`` (label, value), top to bottom in the order given,
    as inline SVG; "" when there are no rows. ``percent`` reads values as fractions and
    shows them as percentages on a 0–100 scale; counts are drawn against the largest."""
    if not _ID.fullmatch(chart_id):
        raise ValueError(f"not a chart id: {chart_id!r}")
    if not rows:
        return ""
    top = 1.0 if percent else max(1.0, max(value for _, value in rows))
    drawn = [f'<text x="0" y="{TITLE_SIZE}" font-size="{TITLE_SIZE}" font-weight="bold" '
             f'{FONT} fill="{TEXT}">{escape(title)}</text>']
    y = TITLE_SIZE + 8
    for label, value in rows:
        row, y = _row(label, value, top, y, percent)
        drawn.append(row)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" width="100%" '
            f'height="{y}" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">'
            f'<title id="{chart_id}-title">{escape(title)}</title>'
            f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + "".join(drawn)
            + "</svg>")


def _row(label: str, value: float, top: float, y: int, percent: bool) -> tuple[str, int]:
    """One row's label, bar and value, from ``y`` down; the markup and where it ends."""
    lines = textwrap.wrap(label, LABEL_CHARACTERS) or [""]
    spans = "".join(f'<tspan x="0" dy="{LINE if i else 0}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    y += LINE
    text = (f'<text class="label" x="0" y="{y - 4}" font-size="{LABEL_SIZE}" {FONT} '
            f'fill="{TEXT}">{spans}</text>')
    y += LINE * (len(lines) - 1) + 2
    width = f"{LONGEST_BAR * max(0.0, value) / top:.2f}".rstrip("0").rstrip(".")
    shown = f"{round(value * 100)}%" if percent else f"{value:g}"
    bar = (f'<rect x="0" y="{y}" width="{LONGEST_BAR}%" height="{BAR}" fill="{TRACK}"/>'
           f'<rect class="bar" x="0" y="{y}" width="{width}%" height="{BAR}" '
           f'fill="{NHS_BLUE}"/>'
           f'<text class="value" x="{width}%" dx="6" y="{y + BAR - 3}" '
           f'font-size="{LABEL_SIZE}" {FONT} fill="{TEXT}">{shown}</text>')
    return text + bar, y + BAR + ROW_GAP
