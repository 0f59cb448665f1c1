"""The impact report (issue 17): read every figure for a period in one read transaction
(storage), group and rate them (core ``awareness.reports.figures``), and give it as HTML,
CSV or JSON (core ``awareness.reports.render``, which alone draws charts)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from awareness.errors import AwarenessError
from awareness.precision import Decisions, is_flagged
from awareness.reports import figures as core
from awareness.reports.figures import ImpactReport, Judged, Period
from awareness.service.context import Context
from awareness.service.listing import source_health
from awareness.storage import reports, reviews
from awareness.storage.db import reading

HEALTH_ORDER = ("active", "stale", "broken", "gone", "disabled")


def impact_report(ctx: Context, period: Period) -> ImpactReport:
    """Every figure of the report for ``period``: so far, when it is not over; none (an
    error naming the latest) when it has not begun."""
    tz, now = ctx.settings.timezone, ctx.now()
    start, end = period.bounds(tz)
    if now < start:
        latest = core.period_on(period.kind, now.astimezone(tz).date())
        raise AwarenessError(f"{period.name} has not begun: the latest {period.kind} is "
                             f"{latest.name} (reported so far)")
    # Nothing has happened after now: a period under way is counted to its end as it is,
    # so far, and what happened at this very moment is in. Only what falls due by a date
    # (a driver record's review) is counted to now.
    complete = end <= now
    topic_names = {t.slug: t.name for t in ctx.topics()}
    with reading(ctx.engine) as conn:
        addresses = reports.reader_addresses(conn, end)
        follows = reports.reader_topics(conn, end)
        new = reports.new_readers(conn, start, end)
        sent = reports.sent_by_kind(conn, start, end)
        answers = reports.feedback_answers(conn, start, end)
        comments = reports.comments(conn, start, end)
        said = reports.comment_texts(conn, start, end)
        clicks = reports.clicks(conn, start, end)
        by_topic = reports.items_by_topic(conn, start, end)
        by_source = reports.items_by_source(conn, start, end)
        decided = {by: reviews.decision_counts(conn, start, by, until=end)
                   for by in ("topic", "source")}
        due = reports.review_dates(conn)
        moves = reports.review_date_moves(conn)
        source_names = reports.source_names(conn)
    health = source_health(ctx)
    new_items = {key: items for key, items, _ in by_source}
    return ImpactReport(
        period=period, made_at=now, readers=len(addresses), new_readers=new,
        readers_by_organisation=core.readers_by_organisation(addresses),
        readers_by_topic=core.readers_by_topic(follows, topic_names),
        sent_by_kind=tuple(core.Count(kind, n) for kind, n in sorted(sent.items())),
        feedback_by_topic=core.feedback_by_topic(answers, topic_names),
        comments=comments, comment_texts=core.reader_comments(said, topic_names, tz),
        clicks=clicks if ctx.settings.mail.track_clicks or clicks else None,
        items_by_topic=core.items_by(by_topic, topic_names),
        items_by_source=core.items_by(by_source, source_names),
        precision_by_topic=_judged(ctx, decided["topic"], topic_names),
        precision_by_source=_judged(ctx, decided["source"], source_names),
        driver_reviews=core.driver_reviews(due, moves, period, tz, until=min(end, now)),
        sources_by_health=_by_health(_state(row) for row in health),
        source_health=tuple(sorted(
            ((str(row["name"]), _state(row), new_items.get(str(row["id"]), 0))
             for row in health), key=lambda r: (HEALTH_ORDER.index(r[1])
                                                if r[1] in HEALTH_ORDER else 99, r[0]))),
        complete=complete)


def _state(row: dict[str, object]) -> str:
    """A source's health as the report names it: its state, or "stale" when it is active
    but has not published for longer than its usual rhythm."""
    return "stale" if row["stale"] else str(row["state"])


def _judged(ctx: Context, counts: dict[str, Decisions],
            names: dict[str, str]) -> tuple[Judged, ...]:
    """Decisions per topic or source, by name, with the flag of the threshold."""
    policy = ctx.settings.reports
    return tuple(sorted((Judged(names.get(key, key), d, is_flagged(
        d, policy.precision_threshold, policy.precision_min_decisions))
        for key, d in counts.items()), key=lambda j: j.label.casefold()))


def _by_health(states: Iterable[str]) -> tuple[core.Count, ...]:
    counted = Counter(states)
    order = {state: i for i, state in enumerate(HEALTH_ORDER)}
    return tuple(core.Count(state, n) for state, n in
                 sorted(counted.items(), key=lambda pair: (order.get(pair[0], 99), pair[0])))


FORMATS = ("html", "csv", "json")


def rendered(ctx: Context, period: Period, form: str, links: dict[str, str] | None = None
             ) -> str:
    """The report for ``period`` as ``html``, ``csv`` or ``json`` text. ``links`` (the web
    page's) adds the period chooser and the download links to the HTML. The rendering is
    imported only here: most commands never make a report."""
    from awareness.reports import render

    report = impact_report(ctx, period)
    if form == "csv":
        return render.as_csv(report)
    if form == "json":
        return json.dumps(render.as_json(report), indent=2, ensure_ascii=False) + "\n"
    return render.as_html(report, ctx.mail_templates(), ctx.settings.library.name,
                            ctx.settings.timezone, links)
