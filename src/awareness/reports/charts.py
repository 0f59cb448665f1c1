"""The report's charts: horizontal bar charts drawn as SVG by pygal (issue 17). Pure: rows
in, markup out.

pygal is imported inside ``bar_chart``, so only making a report loads it: polling, sending
and every page but ``/reports`` never do (``tests/test_reports.py`` checks it).

Each chart is made accessible and self-contained before it is returned: its scripts (pygal's
tooltips, which load a script from the web) are removed, so it works under the web app's
policy of no scripts and in a report saved as a file; it carries ``role="img"`` and a
``<title>`` and ``<desc>`` that screen readers announce; and the page puts the same numbers
in a table beside it. Its id is the one given, not pygal's random one, so the same figures
always draw the same chart.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from html import escape
from types import ModuleType

NHS_BLUE = "#005eb8"
_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_PYGAL_ID = re.compile(r'id="chart-([0-9a-f-]{36})"')
_ID = re.compile(r"[a-z][a-z0-9-]{0,40}")


def bar_chart(chart_id: str, title: str, description: str,
              rows: Sequence[tuple[str, float]], *, percent: bool = False) -> str:
    """A horizontal bar chart of ``rows`` (label, value), in the order given, as inline SVG;
    "" when there are no rows. ``percent`` reads values as fractions and shows them as
    percentages on a 0–100 scale."""
    if not _ID.fullmatch(chart_id):
        raise ValueError(f"not a chart id: {chart_id!r}")
    if not rows:
        return ""
    pygal = _pygal()
    from pygal.style import Style

    style = Style(background="#ffffff", plot_background="#ffffff", foreground="#212b32",
                  foreground_strong="#212b32", foreground_subtle="#4c6272",
                  colors=(NHS_BLUE,), font_family="Arial, Helvetica, sans-serif",
                  label_font_size=13, major_label_font_size=13, value_font_size=13,
                  title_font_size=16)
    chart = pygal.HorizontalBar(
        js=[], disable_xml_declaration=True, show_legend=False, style=style, width=640,
        height=90 + 32 * len(rows), title=title, print_values=True, truncate_label=-1,
        range=(0, 100) if percent else (0, _top(rows)), y_labels=_ticks(rows, percent),
        show_y_guides=False,
        value_formatter=(lambda v: f"{round(v)}%") if percent else (lambda v: f"{v:g}"))
    # pygal draws the first row at the bottom; readers read from the top.
    ordered = list(reversed(rows))
    chart.x_labels = [label for label, _ in ordered]
    chart.add(title, [value * 100 if percent else value for _, value in ordered])
    return _accessible(str(chart.render(is_unicode=True)), chart_id, title, description)


def _top(rows: Sequence[tuple[str, float]]) -> float:
    """The end of a count axis: the largest value, at least 1."""
    return max(1.0, max(value for _, value in rows))


def _ticks(rows: Sequence[tuple[str, float]], percent: bool) -> list[float]:
    """Axis marks: every 10% for rates; whole numbers for counts (no "0.2 readers"), at most
    about eight of them."""
    if percent:
        return [float(mark) for mark in range(0, 101, 10)]
    top = int(_top(rows) + 0.999)
    step = max(1, -(-top // 8))
    return [float(mark) for mark in range(0, top + step, step)]


def _pygal() -> ModuleType:
    """pygal, imported on first use, without the import hook it installs.

    Importing pygal appends ``PluginImportFixer`` to ``sys.meta_path`` (for its map plugins,
    which the report does not use). That finder has only the ``find_module`` that Python
    3.4 deprecated, so from then on every import of a module that is not installed (uvicorn
    tries ``uvloop``, for one) raises an ImportWarning in the whole process. It is taken out
    again here; pygal's charts do not need it."""
    import pygal

    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if type(finder).__name__ != "PluginImportFixer"]
    return pygal


def _accessible(svg: str, chart_id: str, title: str, description: str) -> str:
    """pygal's SVG with no scripts or comments, our id, a role, a title and a description."""
    svg = _COMMENT.sub("", _SCRIPT.sub("", svg))
    found = _PYGAL_ID.search(svg)
    if found:
        svg = svg.replace(f"chart-{found.group(1)}", chart_id)
    opening_end = svg.index(">") + 1
    head = svg[:opening_end - 1] + (
        f' role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">')
    return (head + f'<title id="{chart_id}-title">{escape(title)}</title>'
            f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + svg[opening_end:])
