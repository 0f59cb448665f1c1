"""The librarians' subscriber pages (issue 12): the list (search, status, topic, paged, also
as JSON), one subscriber with what can be done to them, and adding someone on their behalf.

Every route is for signed-in librarians only, and every POST carries the session's CSRF
token. Staff never see these pages: the reasons and addresses on them are internal.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from awareness.errors import AwarenessError, NotFound
from awareness.roster import STATUSES, search_from
from awareness.service import roster, subscribing
from awareness.signup import FREQUENCIES, Choice
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

MAX_ADDRESS = 320
MAX_REASON = 500
ONE = "/subscribers/{subscriber_id:int}"
MAX_ID = 2**31 - 1  # an INTEGER column


def routes() -> list[Route]:
    """The routes of these pages."""
    return [
        Route("/subscribers", list_page),
        Route("/subscribers/new", add_form),
        form_route("/subscribers/new", add_submit),
        Route(ONE, subscriber_page),
        form_route(f"{ONE}/suspend", suspend),
        form_route(f"{ONE}/resume", resume),
        form_route(f"{ONE}/remove", remove),
        form_route(f"{ONE}/undo-remove", undo_remove),
        Route(f"{ONE}/erase", erase_page),
        form_route(f"{ONE}/erase", erase_submit),
        Route(f"{ONE}/export.json", export),
    ]


def _id(request: Request) -> int:
    """The subscriber id in the path; NotFound past what the column holds (SQLite would
    raise an overflow, a 500)."""
    subscriber_id = int(request.path_params["subscriber_id"])
    if subscriber_id > MAX_ID:
        raise NotFound(f"no subscriber {subscriber_id}")
    return subscriber_id


# --- the list -------------------------------------------------------------------------------

@librarian_only
async def list_page(request: Request, session: Session) -> Response:
    ctx = ctx_of(request)
    titles = roster.titles(ctx)
    search = search_from(request.query_params, titles)
    found = await run_in_threadpool(roster.find, ctx, search)
    if request.query_params.get("format") == "json":
        return JSONResponse(found.as_json())
    return page_with_flash(request, "subscribers.html", session, found=found, search=search,
                           statuses=STATUSES, titles=titles)


# --- one subscriber -------------------------------------------------------------------------

@librarian_only
async def subscriber_page(request: Request, session: Session) -> Response:
    detail = await run_in_threadpool(roster.detail, ctx_of(request), _id(request))
    return page_with_flash(request, "subscriber.html", session, detail=detail, entry=detail.entry,
                           error=None, reason="")


@editor_only
async def suspend(request: Request, session: Session) -> Response:
    form = await checked_form(request, session)
    reason = str(form.get("reason", ""))[:MAX_REASON]
    ctx = ctx_of(request)
    try:
        found = await run_in_threadpool(roster.suspend, ctx, _id(request), reason,
                                        str(session.name))
    except AwarenessError as refused:
        detail = await run_in_threadpool(roster.detail, ctx, _id(request))
        return page_with_flash(request, "subscriber.html", session, status_code=400, detail=detail,
                               entry=detail.entry, error=str(refused), reason=reason)
    return done(request, f"/subscribers/{found.id}", f"Suspended {found.email}.")


@editor_only
async def resume(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    found = await run_in_threadpool(roster.resume, ctx_of(request), _id(request),
                                    str(session.name))
    return done(request, f"/subscribers/{found.id}", f"Digests to {found.email} resumed.")


@editor_only
async def remove(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    found = await run_in_threadpool(roster.remove, ctx_of(request), _id(request),
                                    str(session.name))
    return done(request, f"/subscribers/{found.id}",
                f"Unsubscribed {found.email} from every digest. By mistake? Undo it below.")


@editor_only
async def undo_remove(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    ctx = ctx_of(request)
    try:
        found = await run_in_threadpool(roster.undo_remove, ctx, _id(request),
                                        str(session.name))
    except AwarenessError as refused:
        detail = await run_in_threadpool(roster.detail, ctx, _id(request))
        return page_with_flash(request, "subscriber.html", session, status_code=400, detail=detail,
                               entry=detail.entry, error=str(refused), reason="")
    return done(request, f"/subscribers/{found.id}",
                f"{found.email} gets what they got before again; no mail went to them.")


@editor_only
async def erase_page(request: Request, session: Session) -> Response:
    found = await run_in_threadpool(roster.subscriber, ctx_of(request), _id(request))
    return page_with_flash(request, "subscriber_erase.html", session, subscriber=found)


@editor_only
async def erase_submit(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    found, _ = await run_in_threadpool(roster.erase, ctx_of(request), _id(request),
                                       str(session.name))
    return done(request, "/subscribers", f"Erased {found.email} and their digest history.")


@editor_only
async def export(request: Request, session: Session) -> Response:
    data = await run_in_threadpool(roster.export, ctx_of(request), _id(request))
    body = json.dumps(data, indent=2, ensure_ascii=False)
    return Response(body, media_type="application/json", headers={
        "content-disposition": f'attachment; filename="subscriber-{_id(request)}.json"'})


# --- adding someone on their behalf ---------------------------------------------------------

@editor_only
async def add_form(request: Request, session: Session) -> Response:
    return _add_page(request, session, email="", chosen={}, bulletins=False, error=None)


@editor_only
async def add_submit(request: Request, session: Session) -> Response:
    ctx = ctx_of(request)
    titles = roster.titles(ctx)
    form = await checked_form(request, session, max_fields=len(titles) + 4)
    email = str(form.get("email", ""))[:MAX_ADDRESS].strip()
    chosen = {slug: str(form.get(f"frequency-{slug}", "")) for slug in titles}
    choices = [Choice(slug, how) for slug, how in chosen.items() if how in FREQUENCIES]
    bulletins = form.get("bulletins") == "yes"
    try:
        found, welcomed = await run_in_threadpool(lambda: roster.add(
            ctx, email, choices, getattr(request.app.state, "nudge_relay", None),
            bulletins=bulletins, librarian=str(session.name)))
    except AwarenessError as refused:
        return _add_page(request, session, email=email, chosen=chosen, bulletins=bulletins,
                         error=str(refused), status_code=400)
    return done(request, f"/subscribers/{found.id}",
                f"Subscribed {found.email}; a welcome mail with their preference link "
                "is on its way." if welcomed else
                f"{found.email} already had these topics; nothing changed and no mail went.")


def _add_page(request: Request, session: Session, *, email: str, chosen: dict[str, str],
              bulletins: bool, error: str | None, status_code: int = 200) -> Response:
    topics = ctx_of(request).topics()
    return page_with_flash(request, "subscriber_new.html", session, status_code=status_code,
                           topics=topics, email=email, chosen=chosen, error=error,
                           frequencies=FREQUENCIES, bulletins=bulletins,
                           offers=subscribing.bulletins_offered(ctx_of(request)))
