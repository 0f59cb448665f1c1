"""Driver-record pages beyond the list and the record: the needs-attention page, the list's
filters, and turning a matched item into a draft record from the review page."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.service.drafts import draft_from_match
from awareness.service.driver_views import DUE_STATUSES, DriverFilter
from awareness.service.stewardship import needs_attention
from awareness.web.app import FORM_LIMIT, _ctx, checked_form, librarian_only
from awareness.web.pages import redirect, render
from awareness.web.security import Session

FILTER_LIMIT = 200


def routes() -> list[Route]:
    """The routes of this module, placed before ``/drivers/{slug}`` so they are not shadowed."""
    return [
        Route("/drivers/attention", attention_page),
        Route("/review/{match_id:int}/draft", draft, methods=["POST"],
              max_body_size=FORM_LIMIT),
    ]


def driver_filter(request: Request) -> DriverFilter:
    """The list's filters from the query string; an unknown due status is ignored."""
    params = request.query_params
    due = params.get("due", "")
    return DriverFilter(tag=params.get("tag", "")[:FILTER_LIMIT],
                        source=params.get("source", "")[:FILTER_LIMIT],
                        member=params.get("member", "")[:FILTER_LIMIT],
                        due=due if due in DUE_STATUSES else "",
                        search=params.get("q", "")[:FILTER_LIMIT])


@librarian_only
async def attention_page(request: Request, session: Session) -> Response:
    """Records needing attention, optionally for one member (``?member=FG``)."""
    member = request.query_params.get("member", "")[:20]
    entries = await run_in_threadpool(needs_attention, _ctx(request), member)
    return render(request, "attention.html", session=session, entries=entries, member=member)


@librarian_only
async def draft(request: Request, session: Session) -> Response:
    """Create a draft record from the match's item, then open it."""
    await checked_form(request, session)
    slug = await run_in_threadpool(draft_from_match, _ctx(request),
                                   request.path_params["match_id"],
                                   changed_by=str(session.name))
    return redirect(request, f"/drivers/{slug}")
