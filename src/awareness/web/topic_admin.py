"""The librarians' topics page (issue 14) at ``/topics/manage``: each topic's title,
description, search strategy, review mode and sources, its test set (the topic file's
``[[examples]]``, run as ``awareness check`` runs them) and how many matches it made in each of
the last eight weeks, and its precision from reviews (approved ÷ decided over 30 and 90
days, flagged below the threshold; per source too), with a link to try it over the archive.

``/topics`` itself is the public catalogue staff subscribe from; this page is for signed-in
librarians only, and read-only.
"""

from __future__ import annotations

from datetime import date, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from awareness.dates import day_month
from awareness.precision import percent
from awareness.service import workbench
from awareness.service.precision import precision
from awareness.web.guards import ctx_of, librarian_only, page_with_flash
from awareness.web.security import Session
from awareness.workbench import WEEKS


def routes() -> list[Route]:
    """The routes of this page."""
    return [Route("/topics/manage", manage_page)]


@librarian_only
async def manage_page(request: Request, session: Session) -> Response:
    ctx = ctx_of(request)
    summaries = await run_in_threadpool(workbench.topic_summaries, ctx)
    figures = await run_in_threadpool(precision, ctx)
    by_topic = {row.key: row for row in figures.topics}
    if request.query_params.get("format") == "json":
        return JSONResponse([{**s.as_json(), "precision": by_topic[s.topic.slug].as_json()
                              if s.topic.slug in by_topic else None} for s in summaries])
    today = ctx.now().astimezone(ctx.settings.timezone).date()
    return page_with_flash(request, "topics_manage.html", session, summaries=summaries,
                           week_starts=[day_month(d) for d in week_starts(today)],
                           precision=by_topic,
                           sources_precision=figures.sources, percent=percent,
                           threshold=percent(ctx.settings.reports.precision_threshold))


def week_starts(today: date) -> list[date]:
    """The first day of each of the last WEEKS seven-day spans, oldest first."""
    return [today - timedelta(days=7 * back - 1) for back in range(WEEKS, 0, -1)]
