"""The review pages: the queue (tabs with counts, paging, a topic filter, many decisions at
once, keyboard shortcuts) and one match's page with its history.

Every change is a POST from our own page (CSRF, W3) and lands in the match's history. The
history holds the review-log notes and librarians' names, so every page here is for
librarians only (issue 12). The keyboard shortcuts are ``static/review.js``: the page works
without it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.errors import AwarenessError
from awareness.review import READER_NOTE_LIMIT, STATUS_LABELS
from awareness.service import match_links, review
from awareness.web.guards import checked_form, ctx_of, form_route, librarian_only, security_of
from awareness.web.pages import redirect, render
from awareness.web.security import Session

STATUSES = tuple(STATUS_LABELS)
NOTE_LIMIT = 2000
SEARCH_LIMIT = 200
MAX_SELECTED = 100  # a page shows 50; the form's other fields fit beside them


def routes() -> list[Route]:
    """The routes of this module (``/review/{id}/draft`` is ``drivers``')."""
    return [
        Route("/review", review_page),
        form_route("/review/many", decide_many),
        Route("/review/{match_id:int}", match_page),
        form_route("/review/{match_id:int}/approve", approve),
        form_route("/review/{match_id:int}/reject", reject),
        form_route("/review/{match_id:int}/undo", undo),
        form_route("/review/{match_id:int}/withdraw", withdraw),
        form_route("/review/{match_id:int}/links/{action:str}", change_link),
    ]


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 7 else 1


@librarian_only
async def review_page(request: Request, session: Session) -> Response:
    params = request.query_params
    status = params.get("status", "pending")
    if status not in STATUSES:
        raise AwarenessError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
    topic = params.get("topic", "")[:100] or None
    ctx = ctx_of(request)
    queue = await run_in_threadpool(review.review_page, ctx, status=status, topic=topic,
                                    page=_page_number(params.get("page")))
    topics = {t.slug: t.name for t in ctx.topics()}
    security = security_of(request)
    flash = security.read_flash(request)
    response = render(request, "review.html", session=session, queue=queue, status=status,
                      labels=STATUS_LABELS, topic=topic, topics=topics, flash=flash,
                      back=_query(status, topic, queue.page),
                      reader_note_limit=READER_NOTE_LIMIT)
    if flash:
        security.clear_flash(response)
    return response


@librarian_only
async def match_page(request: Request, session: Session) -> Response:
    """One match: the item, the decide form with both notes (as on the queue), its driver
    links (confirm, remove, add one found by ``?q=``) and its history (who decided or changed
    what, when)."""
    ctx = ctx_of(request)
    shown = await run_in_threadpool(review.match_history, ctx, request.path_params["match_id"])
    search = request.query_params.get("q", "")[:SEARCH_LIMIT]
    found = await run_in_threadpool(match_links.find_records, ctx, search)
    linked = {link.slug for link in shown.links if link.state != "removed"}
    topics = {t.slug: t.name for t in ctx.topics()}
    security = security_of(request)
    flash = security.read_flash(request)
    response = render(request, "review_match.html", session=session, match=shown.match,
                      history=shown.history, links=shown.links, sent=shown.sent,
                      search=search, found=[f for f in found if f.slug not in linked],
                      topics=topics, labels=STATUS_LABELS, flash=flash,
                      reader_note_limit=READER_NOTE_LIMIT)
    if flash:
        security.clear_flash(response)
    return response


def _query(status: str, topic: str | None, page: int) -> str:
    """The review page's query string for a tab, topic and page ("" for the first waiting)."""
    values = {"status": status if status != "pending" else "", "topic": topic or "",
              "page": str(page) if page > 1 else ""}
    kept = {key: value for key, value in values.items() if value}
    return f"?{urlencode(kept)}" if kept else ""


def _back(form: FormData) -> str:
    """Where a decision returns to: the tab, topic and page it was made on."""
    status = str(form.get("back", "pending"))
    return _query(status if status in STATUSES else "pending",
                  str(form.get("topic", ""))[:100] or None, _page_number(str(form.get("page"))))


def _done(request: Request, form: FormData, message: str) -> Response:
    back = str(form.get("return", ""))
    target = back if back.startswith("/review/") and back[8:].isdigit() else "/review"
    response = redirect(request, target + ("" if target != "/review" else _back(form)))
    security_of(request).write_flash(response, message)
    return response


def _title(text: str) -> str:
    return " ".join(text.split())[:200]


@librarian_only
async def approve(request: Request, session: Session) -> Response:
    return await _decide(request, session, "approved")


@librarian_only
async def reject(request: Request, session: Session) -> Response:
    return await _decide(request, session, "rejected")


async def _decide(request: Request, session: Session, decision: str) -> Response:
    form = await checked_form(request, session)
    # Two notes (issue 12): the review log's stays here; only the one for readers is mailed.
    note = str(form.get("note", ""))[:NOTE_LIMIT].strip()
    reader_note = form.get("reader_note")
    done = await run_in_threadpool(
        review.decide, ctx_of(request), request.path_params["match_id"], decision,
        librarian=str(session.name), note=note,
        reader_note=None if reader_note is None else str(reader_note)[:READER_NOTE_LIMIT].strip())
    title = _title(done.view.title)
    return _done(request, form, f"{decision.capitalize()}: {title}" if done.recorded
                 else f"Already {decision}; nothing changed: {title}")


@librarian_only
async def decide_many(request: Request, session: Session) -> Response:
    """Approve or reject every ticked match in one go."""
    form = await checked_form(request, session, max_fields=MAX_SELECTED + 10)
    action = str(form.get("decision", ""))
    decision = {"approve": "approved", "reject": "rejected"}.get(action)
    if decision is None:
        raise AwarenessError("choose Approve selected or Reject selected")
    ids = [int(v) for v in map(str, form.getlist("ids")) if v.isdigit() and len(v) < 10]
    if not ids:
        return _done(request, form, "Nothing was selected: tick the matches first.")
    done = await run_in_threadpool(review.decide_many, ctx_of(request), ids, decision,
                                   librarian=str(session.name))
    return _done(request, form, f"{decision.capitalize()}: {done} "
                                f"{'match' if done == 1 else 'matches'}.")


@librarian_only
async def undo(request: Request, session: Session) -> Response:
    form = await checked_form(request, session)
    match = await run_in_threadpool(review.undo, ctx_of(request),
                                    request.path_params["match_id"],
                                    librarian=str(session.name),
                                    note=str(form.get("note", ""))[:NOTE_LIMIT].strip())
    again = "goes out without review again" if match.status == "auto" else "waits for review"
    return _done(request, form, f"Undone: {_title(match.title)} {again}.")


@librarian_only
async def withdraw(request: Request, session: Session) -> Response:
    form = await checked_form(request, session)
    match = await run_in_threadpool(review.withdraw, ctx_of(request),
                                    request.path_params["match_id"],
                                    librarian=str(session.name),
                                    note=str(form.get("note", ""))[:NOTE_LIMIT].strip())
    return _done(request, form, f"Withdrawn: {_title(match.title)} will not be sent.")


@librarian_only
async def change_link(request: Request, session: Session) -> Response:
    """Confirm, remove or add the match's link to the record named by ``slug``."""
    form = await checked_form(request, session)
    match_id = request.path_params["match_id"]
    link = await run_in_threadpool(match_links.change_link, ctx_of(request), match_id,
                                   str(form.get("slug", ""))[:200],
                                   request.path_params["action"], by=str(session.name))
    response = redirect(request, f"/review/{match_id}")
    security_of(request).write_flash(response, f"Link {link.state}: {_title(link.title)}")
    return response
