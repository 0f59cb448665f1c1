"""The impact report page, ``/reports`` (issue 17): librarians only.

``?period=2026-Q3`` chooses the period (default: the last complete quarter) and
``&format=csv`` or ``json`` downloads the figures. The HTML is the same self-contained page
``awareness report`` writes, with a period chooser: its styles are inline and its charts
inline SVG, so it is served with its own Content-Security-Policy that allows inline styles
and nothing else (no scripts, no images or fonts from anywhere), as the "View in browser"
page is. Its charts' text keeps its size at any width (``awareness.reports.charts``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.errors import AwarenessError
from awareness.web.guards import ctx_of, librarian_only
from awareness.web.pages import root_path
from awareness.web.security import Session

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'none'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
TYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8",
         "json": "application/json"}


def routes() -> list[Route]:
    """The routes of this page."""
    return [Route("/reports", reports_page)]


@librarian_only
async def reports_page(request: Request, session: Session) -> Response:
    """The report for the chosen period, as a page or a download."""
    from awareness.reports.figures import last_complete_quarter, parse_period
    from awareness.service.reports import rendered

    ctx = ctx_of(request)
    form = request.query_params.get("format", "html")
    wanted = request.query_params.get("period", "").strip()[:20]
    try:
        period = (parse_period(wanted) if wanted else
                  last_complete_quarter(ctx.now().astimezone(ctx.settings.timezone).date()))
    except ValueError as err:
        raise AwarenessError(f"{err}.") from None
    if form not in TYPES:
        raise AwarenessError("Choose html, csv or json.")
    root = root_path(request)
    query = {"period": period.name}
    links = {"back": f"{root}/dashboard", "action": f"{root}/reports",
             "csv": f"{root}/reports?{urlencode({**query, 'format': 'csv'})}",
             "json": f"{root}/reports?{urlencode({**query, 'format': 'json'})}"}
    text = await run_in_threadpool(rendered, ctx, period, form, links)
    headers = {"content-security-policy": CSP, "x-robots-tag": "noindex, nofollow"}
    if form != "html":
        headers["content-disposition"] = (
            f'attachment; filename="impact-report-{period.name}.{form}"')
    return Response(text, media_type=TYPES[form], headers=headers)
