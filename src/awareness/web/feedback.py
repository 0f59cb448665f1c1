"""Readers' feedback pages (issue 17): public, no sign-in; the link in the mail is the key.

A feedback link's GET shows a page with one button (and an optional comment) and records
nothing: Microsoft Safe Links, Defender and Mimecast fetch every link of a message before the
reader sees it. The button's POST, carrying the page's CSRF token (an anonymous session
cookie set by the GET), records the answer. A refused link (tampered, another purpose's, or
its reader or item gone) gets one "not valid" page whatever the reason. The pages show the
item's title and the topic's name, nothing a librarian wrote for the review log.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.feedback import ANSWER_PATHS, ANSWERS, COMMENT_LIMIT
from awareness.service import feedback
from awareness.web.guards import checked_form, ctx_of, form_route, security_of
from awareness.web.pages import render
from awareness.web.security import new_session

_LONGEST = 300  # characters of a token worth checking


def routes() -> list[Route]:
    """The routes of these pages."""
    return [
        Route("/feedback/{token}", feedback_page),
        Route("/feedback/{token}/{answer}", feedback_page),
        form_route("/feedback/{token}", feedback_submit),
    ]


def _page(request: Request, template: str, *, status_code: int = 200,
          **values: object) -> Response:
    """A page whose form posts back: an anonymous session carries its CSRF token."""
    values.setdefault("error", None)
    security = security_of(request)
    session = security.read_session(request) or new_session()
    response = render(request, template, status_code=status_code, session=session,
                      comment_limit=COMMENT_LIMIT, **values)
    security.write_session(response, session)
    response.headers["x-robots-tag"] = "noindex, nofollow"
    return response


async def _found(request: Request) -> feedback.FeedbackPage | None:
    token = request.path_params["token"]
    if len(token) > _LONGEST:
        return None
    return await run_in_threadpool(feedback.page, ctx_of(request), token)


async def feedback_page(request: Request) -> Response:
    """The one-button page of a link; records nothing."""
    found = await _found(request)
    chosen = ANSWER_PATHS.get(request.path_params.get("answer", ""))
    answerable = found is not None and found.target.item_id is not None
    if found is None or ("answer" in request.path_params and (chosen is None or not answerable)):
        return _page(request, "feedback_invalid.html", status_code=404)
    return _page(request, "feedback.html", found=found, token=request.path_params["token"],
                 chosen=chosen)


async def feedback_submit(request: Request) -> Response:
    """Record the answer the page's button sent, then thank the reader."""
    form = await checked_form(request, security_of(request).read_session(request))
    given = str(form.get("answer", "")) or None
    comment = str(form.get("comment", ""))[:COMMENT_LIMIT * 2]
    recorded = await run_in_threadpool(lambda: feedback.answer(
        ctx_of(request), request.path_params["token"][:_LONGEST * 2],
        answer=given, comment=comment))
    if not recorded:
        found = await _found(request)
        if found is None:
            return _page(request, "feedback_invalid.html", status_code=404)
        return _page(request, "feedback.html", status_code=400, found=found,
                     token=request.path_params["token"], chosen=given if given in ANSWERS
                     else None, error="Write a few words before sending, or choose an answer.")
    return _page(request, "feedback_thanks.html")
