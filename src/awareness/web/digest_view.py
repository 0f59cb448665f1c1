"""The "View in browser" page of a digest: the HTML part of the stored message, as sent.

Anyone with the link may open it, as anyone with the e-mail may read it: the link is signed
(``digests/view.py``), and a wrong or tampered signature gets the same 404 page as a digest
that does not exist. The page is the reader's own mail, so it keeps the mail's inline
styles; its Content-Security-Policy allows those and https images (the library's logo) and
nothing else: no scripts, no forms, no frames, no plug-ins. A GET changes nothing.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from awareness.errors import NotFound
from awareness.service.digest_view import digest_html
from awareness.web.guards import ctx_of

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https:; script-src 'none'; "
       "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
NOT_FOUND = ("There is no such e-mail, or the link is incomplete. Open it again from the "
             "e-mail.")  # the error page gives the library's address, when it has one
_LONGEST = 200  # characters of a ref or signature worth looking at


def routes() -> list[Route]:
    """The routes this module serves (added to the app's routes)."""
    return [Route("/digest/{ref}/{signature}", digest_page)]


async def digest_page(request: Request) -> Response:
    """The digest's HTML part, or the 404 page."""
    ref, signature = request.path_params["ref"], request.path_params["signature"]
    html = None
    if len(ref) <= _LONGEST and len(signature) <= _LONGEST:
        html = await run_in_threadpool(digest_html, ctx_of(request), ref, signature)
    if html is None:
        raise NotFound(NOT_FOUND)
    # Its own policy, which the security middleware keeps; search engines stay out.
    return HTMLResponse(html, headers={"content-security-policy": CSP,
                                       "x-robots-tag": "noindex, nofollow"})
