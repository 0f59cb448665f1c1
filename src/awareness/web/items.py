"""The librarians' item pages (issue 14): stored items searched with the search language
(the matcher polling and "try a query" use), narrowed by source, topic and first-seen dates,
50 a page and as JSON; and one item with its matches, its story siblings (the same document
from other publishers) and the driver records linked to it.

Read-only: every route is a GET, for signed-in librarians only (the archive holds items no
digest sent, and the matches' review state is internal).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from awareness.errors import NotFound, QuerySyntaxError
from awareness.service import workbench
from awareness.web.guards import ctx_of, librarian_only, page_with_flash
from awareness.web.security import Session
from awareness.workbench import item_search_from

MAX_ID = 2**31 - 1  # an INTEGER column


def routes() -> list[Route]:
    """The routes of these pages."""
    return [Route("/items", list_page), Route("/items/{item_id:int}", item_page)]


@dataclass(frozen=True)
class _Error:
    message: str
    column: int


@librarian_only
async def list_page(request: Request, session: Session) -> Response:
    ctx = ctx_of(request)
    sources = await run_in_threadpool(workbench.source_names, ctx)
    titles = {t.slug: t.name for t in ctx.topics()}
    search = item_search_from(request.query_params, sources, titles)
    try:
        found = await run_in_threadpool(workbench.find_items, ctx, search)
    except QuerySyntaxError as err:
        if request.query_params.get("format") == "json":
            return JSONResponse({"error": err.message, "column": err.column}, status_code=400)
        return page_with_flash(request, "items.html", session, status_code=400, search=search,
                               found=None, error=_Error(err.message, err.column),
                               sources=sources, titles=titles)
    if request.query_params.get("format") == "json":
        return JSONResponse(found.as_json())
    return page_with_flash(request, "items.html", session, search=search, found=found,
                           error=None, sources=sources, titles=titles)


@librarian_only
async def item_page(request: Request, session: Session) -> Response:
    item_id = int(request.path_params["item_id"])
    if item_id > MAX_ID:
        raise NotFound(f"no item {item_id}")
    detail = await run_in_threadpool(workbench.item_detail, ctx_of(request), item_id)
    if request.query_params.get("format") == "json":
        return JSONResponse(detail.as_json())
    titles = {t.slug: t.name for t in ctx_of(request).topics()}
    return page_with_flash(request, "item.html", session, detail=detail, titles=titles)
