"""The counted link's redirect, ``/click/{token}`` (issue 17): public, no sign-in.

It redirects only to the address inside a token the service signed (no open redirect); any
other token gets the "not valid" page and no redirect. HEAD requests (link checkers) are
answered without counting. The response is never cached, so each click reaches the service.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from awareness.service import clicks
from awareness.web.guards import ctx_of
from awareness.web.pages import render

_LONGEST = 4000  # characters of a token worth checking (it holds the publisher's URL)


def routes() -> list[Route]:
    """The routes of this page."""
    return [Route("/click/{token}", follow, methods=["GET", "HEAD"])]


async def follow(request: Request) -> Response:
    """Redirect to the signed address, counting a reader's click."""
    token = request.path_params["token"]
    agent = request.headers.get("user-agent", "") if request.method == "GET" else ""
    target = None
    if len(token) <= _LONGEST:
        target = await run_in_threadpool(
            clicks.follow, ctx_of(request), token, agent, request.method == "GET")
    if target is None:
        return render(request, "feedback_invalid.html", status_code=404)
    return RedirectResponse(target, status_code=302, headers={
        "cache-control": "no-store", "x-robots-tag": "noindex, nofollow"})
