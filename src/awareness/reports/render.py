"""The impact report as JSON, CSV and HTML (pure: the report and a template in, text out).

The HTML is one self-contained page: its styles are inside it, its charts are inline SVG,
and it loads nothing (no scripts, fonts or images from anywhere), so it can be saved, mailed
and printed as it is; a print style keeps each chart beside its table on one page. Every
chart has the numbers it draws in a table beside it (issue 17: librarians paste the charts
into board papers, and a screen reader reads the table).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import jinja2
from markupsafe import Markup

from awareness.dates import local_time, zone_name
from awareness.mail.outbox import kind_name
from awareness.precision import percent
from awareness.reports.charts import bar_chart
from awareness.reports.figures import ImpactReport

HTML_TEMPLATE = "report/report.html"


def as_json(report: ImpactReport) -> dict[str, Any]:
    """Every figure as JSON-ready data; rates are fractions (None when there is nothing to
    rate). ``complete`` is false for a period not over, whose figures run to ``made_at``."""
    r = report
    return {
        "period": r.period.name, "from": r.period.first.isoformat(),
        "until": r.period.after.isoformat(), "made_at": r.made_at.isoformat(),
        "complete": r.complete,
        "readers": r.readers, "new_readers": r.new_readers,
        "readers_by_organisation": {c.label: c.value for c in r.readers_by_organisation},
        "readers_by_topic": {c.label: c.value for c in r.readers_by_topic},
        "sent_by_kind": {c.label: c.value for c in r.sent_by_kind},
        "digests_sent": r.digests_sent,
        "feedback_by_topic": {f.topic: {"useful": f.useful, "not_useful": f.not_useful,
                                        "useful_rate": _rate(f.useful_rate)}
                              for f in r.feedback_by_topic},
        "comments": r.comments, "clicks": r.clicks,
        "items_by_topic": {i.label: {"matched": i.items, "for_readers": i.onward}
                           for i in r.items_by_topic},
        "items_by_source": {i.label: {"new": i.items, "matched": i.onward}
                            for i in r.items_by_source},
        "precision_by_topic": {j.label: _judged(j) for j in r.precision_by_topic},
        "precision_by_source": {j.label: _judged(j) for j in r.precision_by_source},
        "driver_reviews": {"due": r.driver_reviews.due, "on_time": r.driver_reviews.on_time,
                           "late": r.driver_reviews.late,
                           "not_reviewed": r.driver_reviews.not_reviewed,
                           "overdue": r.driver_reviews.overdue},
        "sources_by_health": {c.label: c.value for c in r.sources_by_health},
        "reader_comments": [{"date": c.on.isoformat(), "topic": c.topic, "about": c.about,
                             "answer": c.answer, "comment": c.text} for c in r.comment_texts],
    }


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _judged(judged: Any) -> dict[str, Any]:
    d = judged.decisions
    return {"approved": d.approved, "rejected": d.rejected, "decided": d.decided,
            "precision": _rate(d.precision), "flagged": judged.flagged}


def as_csv(report: ImpactReport) -> str:
    """Every figure as one CSV table, one number a row: section, label, measure, value
    (what a spreadsheet pivots). Rates are fractions. Readers' comments are text, not
    figures: they are in the HTML and the JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(["period", "section", "label", "measure", "value"])
    for section, value in as_json(report).items():
        for label, measure, number in _flat(section, value):
            writer.writerow([report.period.name, section, label, measure,
                             "" if number is None else number])
    return out.getvalue()


def _flat(section: str, value: Any) -> list[tuple[str, str, Any]]:
    """The (label, measure, value) rows of one section of ``as_json``."""
    if section in ("period", "from", "until", "made_at", "complete", "reader_comments"):
        return []  # said in the file's first column, or text rather than a number
    if not isinstance(value, dict):
        return [("", section, value)]
    rows: list[tuple[str, str, Any]] = []
    for label, inner in value.items():
        if isinstance(inner, dict):
            rows += [(label, measure, number) for measure, number in inner.items()]
        else:
            rows.append((label, "count", inner))
    return rows


@dataclass(frozen=True)
class Chart:
    """One chart of the page and the table of its numbers."""

    id: str
    title: str
    description: str
    svg: Markup
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def charts(report: ImpactReport) -> list[Chart]:
    """The page's charts, each with its table."""
    r = report
    when = f"at the end of {r.period.name}" if r.complete else "now"
    made = [
        _chart("readers-by-organisation", "Readers by organisation",
               f"Readers {when}, by the domain of their e-mail address.",
               [(c.label, c.value) for c in r.readers_by_organisation], ("Organisation",
                                                                          "Readers")),
        _chart("readers-by-topic", "Readers by topic",
               f"Readers following each topic {when}.",
               [(c.label, c.value) for c in r.readers_by_topic], ("Topic", "Readers")),
        _chart("useful-by-topic", "“Useful” rate by topic",
               "Share of readers' answers on each topic's items that said “Useful”.",
               [(f.topic, f.useful_rate or 0.0) for f in r.feedback_by_topic],
               ("Topic", "Useful", "Answers"), percent_scale=True,
               table=[(f.topic, percent(f.useful_rate), str(f.answers))
                      for f in r.feedback_by_topic]),
        _chart("items-by-topic", "Items by topic",
               "Items each topic matched in the period.",
               [(i.label, i.items) for i in r.items_by_topic],
               ("Topic", "Matched", "For readers"),
               table=[(i.label, str(i.items), str(i.onward)) for i in r.items_by_topic]),
        _chart("items-by-source", "New items by source",
               "Items each source published in the period, as first seen by the service.",
               [(i.label, i.items) for i in r.items_by_source],
               ("Source", "New items", "Matched a topic"),
               table=[(i.label, str(i.items), str(i.onward)) for i in r.items_by_source]),
        _chart("precision-by-topic", "Precision by topic",
               "Share of each topic's matches decided in the period that librarians approved.",
               [(j.label, j.decisions.precision or 0.0) for j in r.precision_by_topic],
               ("Topic", "Approved", "Decided"), percent_scale=True,
               table=[(j.label + (" (below threshold)" if j.flagged else ""),
                       percent(j.decisions.precision), str(j.decisions.decided))
                      for j in r.precision_by_topic]),
    ]
    return made


def _chart(chart_id: str, title: str, description: str, rows: list[tuple[str, float]],
           columns: tuple[str, ...], *, percent_scale: bool = False,
           table: list[tuple[str, ...]] | None = None) -> Chart:
    svg = bar_chart(chart_id, title, description, rows, percent=percent_scale)
    cells = table if table is not None else [(label, f"{value:g}") for label, value in rows]
    return Chart(chart_id, title, description, Markup(svg), columns,
                 tuple(tuple(row) for row in cells))


def as_html(report: ImpactReport, env: jinja2.Environment, library: str, tz: tzinfo,
            links: dict[str, str] | None = None) -> str:
    """The report as one self-contained HTML page, its time of making in ``tz`` (the
    service's own, as every page and mail gives times); ``links`` (``back``, ``action``,
    ``csv``, ``json``: the web page's) add a period chooser and download links."""
    return env.get_template(HTML_TEMPLATE).render(
        report=report, charts=charts(report), library=library, percent=percent,
        made=local_time(report.made_at, tz), zone=zone_name(tz),
        useful_rate=_overall_useful(report), links=links, kind_name=kind_name) + "\n"


def _overall_useful(report: ImpactReport) -> float | None:
    useful = sum(f.useful for f in report.feedback_by_topic)
    answers = sum(f.answers for f in report.feedback_by_topic)
    return useful / answers if answers else None
