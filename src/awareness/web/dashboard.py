"""The librarians' dashboard (issue 14) at ``/dashboard``, their home page: matches waiting
for review by topic, sources that need a person (broken, gone, paused, stale or failing),
when the next digests and bulletins go (UK time), driver records due for review, and
messages the outbox has not sent; for administrators, the placeholder addresses mail goes
nowhere to. Read-only; librarians only; also as JSON.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from awareness.roles import allows
from awareness.service import workbench
from awareness.web.guards import ctx_of, librarian_only, page_with_flash
from awareness.web.security import Session


def routes() -> list[Route]:
    """The routes of this page."""
    return [Route("/dashboard", dashboard_page)]


@librarian_only
async def dashboard_page(request: Request, session: Session) -> Response:
    board = await run_in_threadpool(lambda: workbench.dashboard(
        ctx_of(request), administrator=allows(session.role, "administrator")))
    if request.query_params.get("format") == "json":
        return JSONResponse(board.as_json())
    return page_with_flash(request, "dashboard.html", session, board=board,
                           pending_total=sum(count for _, _, count in board.pending),
                           failed=sum(c for (_, status), c in board.unsent.items()
                                      if status == "failed"))
