"""The librarians' sends page (issue 14): what the outbox sent, holds or gave up on (by kind
and status, 50 a page, also as JSON), retrying a failed message, and "what will this person
receive next?": the digests ``awareness digests send --dry-run`` would send one subscriber now.

Never a message body, and every address masked (``a…@trust.nhs.uk``): the full address is on
the subscriber's own page. Librarians only; the one POST carries the session's CSRF token.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from awareness.errors import NotFound
from awareness.service import workbench
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
from awareness.workbench import SEND_STATUSES, send_search_from

MAX_ID = 2**31 - 1  # an INTEGER column
MAX_ADDRESS = 320


def routes() -> list[Route]:
    """The routes of this page."""
    return [
        Route("/sends", list_page),
        Route("/sends/next", next_page),
        form_route("/sends/{message_id:int}/retry", retry),
    ]


@librarian_only
async def list_page(request: Request, session: Session) -> Response:
    ctx = ctx_of(request)
    kinds = await run_in_threadpool(workbench.kinds, ctx)
    search = send_search_from(request.query_params, kinds)
    found = await run_in_threadpool(workbench.list_sends, ctx, search)
    if request.query_params.get("format") == "json":
        return JSONResponse(found.as_json())
    return page_with_flash(request, "sends.html", session, found=found, search=search,
                           kinds=kinds, statuses=SEND_STATUSES, now=ctx_of(request).now())


@editor_only
async def retry(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    message_id = int(request.path_params["message_id"])
    if message_id > MAX_ID:
        raise NotFound(f"no message {message_id}")
    row = await run_in_threadpool(lambda: workbench.retry_send(
        ctx_of(request), message_id, by=str(session.name)))
    if nudge := getattr(request.app.state, "nudge_relay", None):
        nudge()
    return done(request, "/sends?status=pending",
                f"“{row.description}” to {row.recipient} is queued again, due now; the relay "
                "sends it in a moment.")


@librarian_only
async def next_page(request: Request, session: Session) -> Response:
    """The preview: a GET, because it changes nothing and can be bookmarked."""
    email = request.query_params.get("email", "")[:MAX_ADDRESS].strip()
    preview, error = None, None
    if email:
        try:
            preview = await run_in_threadpool(workbench.next_digests, ctx_of(request), email)
        except NotFound as unknown:
            error = f"{unknown}: check the address, or find them on the subscribers page."
    return page_with_flash(request, "sends_next.html", session, status_code=404 if error else 200,
                           email=email, preview=preview, error=error)
