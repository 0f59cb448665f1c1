"""The librarians' sources page (issue 14): the health table ``awareness sources list --json``
prints, "test now" (what ``awareness sources test`` shows; nothing stored), and pause and
resume. A pause is kept in the database: sources.toml is the librarians' file and the service
never rewrites it (``enabled = false`` there still turns a source off for good).

Every route is for signed-in librarians only; every POST carries the session's CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from awareness.errors import FetchError, ParseError
from awareness.service import listing, workbench
from awareness.web.guards import (
    checked_form,
    ctx_of,
    done,
    editor_only,
    form_route,
    librarian_only,
    page_with_flash,
)
from awareness.web.security import Session

ONE = "/sources/{source_id}"
TIMES = ("last_success_at", "last_attempt_at", "next_check_at", "newest_item_at")


def routes() -> list[Route]:
    """The routes of this page."""
    return [
        Route("/sources", list_page),
        form_route(f"{ONE}/test", test_now),
        form_route(f"{ONE}/pause", pause),
        form_route(f"{ONE}/resume", resume),
    ]


@librarian_only
async def list_page(request: Request, session: Session) -> Response:
    rows = await run_in_threadpool(listing.source_health, ctx_of(request))
    if request.query_params.get("format") == "json":
        return JSONResponse(rows)
    return page_with_flash(request, "sources.html", session, rows=[_timed(r) for r in rows],
                           defined={d.id for d in ctx_of(request).sources()})


def _timed(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its times as datetimes, for the page to show in local time."""
    return {**row, **{name: datetime.fromisoformat(row[name]) if row[name] else None
                      for name in TIMES}}


@librarian_only
async def test_now(request: Request, session: Session) -> Response:
    """Fetch the live page and show what the definition extracts. A POST because it sends a
    request to the publisher (a GET would let any link make the service fetch)."""
    await checked_form(request, session)
    source_id = request.path_params["source_id"]
    try:
        report = await run_in_threadpool(workbench.test_source, ctx_of(request), source_id)
    except (FetchError, ParseError) as failed:
        return page_with_flash(request, "source_test.html", session, source_id=source_id,
                               report=None, error=str(failed))
    return page_with_flash(request, "source_test.html", session, source_id=source_id,
                           report=report, error=None)


@editor_only
async def pause(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    source_id = request.path_params["source_id"]
    paused = await run_in_threadpool(lambda: workbench.pause_source(ctx_of(request), source_id,
                                                                    by=str(session.name)))
    said = f"Paused {source_id}" if paused else f"{source_id} was paused already"
    return done(request, "/sources", f"{said}: it is not fetched until you resume it.")


@editor_only
async def resume(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    source_id = request.path_params["source_id"]
    resumed = await run_in_threadpool(lambda: workbench.resume_source(
        ctx_of(request), source_id, by=str(session.name)))
    return done(request, "/sources", f"Resumed {source_id}: it is fetched at the next poll."
                if resumed else f"{source_id} is not paused: it is fetched as usual.")
