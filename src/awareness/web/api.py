"""The JSON API at ``/api/v1`` (issue 14, item 7; docs/api.md): items, matches, topics,
sources, driver records, subscribers and bulletins to read, and review decisions to write.

Every route but the OpenAPI document needs a librarian's API token in
``Authorization: Bearer …`` (RFC 6750). No cookie is read, so no CSRF token is needed: a
browser never adds that header to a request another site makes. A missing, malformed,
unknown or revoked token all get the same 401, so the answer tells nothing about which.
Decisions are recorded under the token's librarian. Errors are ``{"error": "…"}`` with
the status that fits; ``app.py`` sends those for any error under ``/api/`` too.

Listings page with ``limit`` (1-200, default 50) and ``offset`` (from 0); each answers
``{"data": […], "limit", "offset", "next_offset"}``, ``next_offset`` null on the last page.
A GET changes nothing but the token's last-used time (``service/api_tokens.py``).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from awareness.bulletins.build import Issue
from awareness.bulletins.config import BulletinDef
from awareness.errors import AwarenessError, NotFound
from awareness.review import DECISIONS, REVIEWED_STATUSES
from awareness.roles import allows
from awareness.roster import STATUSES as SUBSCRIBER_STATUSES
from awareness.service import (
    api_tokens,
    bulletins,
    drivers,
    librarians,
    listing,
    review,
    roster,
    workbench,
)
from awareness.web import openapi
from awareness.web.guards import bearer_token, ctx_of, forbidden_message

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET = 50, 200, 10_000_000
BODY_LIMIT = 64 * 1024  # bytes: a decision carries two short notes
MAX_NOTE = 2000
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL: a larger one is nothing there
MATCH_STATUSES = (*REVIEWED_STATUSES, "auto")
UNAUTHORISED = "a valid API token is needed: send the header Authorization: Bearer <token>"

View = Callable[[Request, str], Awaitable[Response]]


def is_api(path: str) -> bool:
    """Is ``path`` under the API, whose errors are JSON rather than pages?"""
    return path == "/api" or path.startswith("/api/")


def error_response(status: int, message: str, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    """The API's one error shape: ``{"error": "…"}``."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def routes() -> list[Route]:
    """The API's routes; the OpenAPI document (``web/openapi.py``) lists each of them."""
    get, post = _token_route, functools.partial(_token_route, method="POST")
    return [
        Route(f"{PREFIX}/openapi.json", openapi_document),
        get("/items", list_items), get("/items/{item_id:int}", item),
        get("/matches", list_matches), get("/matches/{match_id:int}", match),
        post("/matches/{match_id:int}/approve", approve),
        post("/matches/{match_id:int}/reject", reject),
        get("/topics", list_topics), get("/sources", list_sources),
        get("/drivers", list_drivers), get("/drivers/{slug}", driver),
        get("/subscribers", list_subscribers),
        get("/subscribers/{subscriber_id:int}", subscriber),
        get("/bulletins", list_bulletins), get("/bulletins/{slug}/issues", list_issues),
    ]


def _token_route(path: str, view: View, method: str = "GET") -> Route:
    # Every route needs a reviewer (what the API offers: reading, and review decisions);
    # the check is here so that a route for more (an editor's) says so in one word.
    return Route(PREFIX + path, token_only(view, needs="reviewer"), methods=[method])


class BodyTooLarge(AwarenessError):
    """A request body over ``BODY_LIMIT`` (read here, not by Starlette's limit, whose 413
    is plain text)."""


# --- authentication and errors --------------------------------------------------------------

def token_only(view: View, needs: str = "reviewer") -> Callable[[Request], Awaitable[Response]]:
    """Answer 401 without a live token and 403 when its librarian's role is below ``needs``
    (a token carries its librarian's role, docs/web.md "Roles"); pass the token's librarian
    to the view; turn domain errors into JSON errors."""
    @functools.wraps(view)
    async def guarded(request: Request) -> Response:
        token = bearer_token(request)
        found = (await run_in_threadpool(api_tokens.librarian_for, ctx_of(request), token)
                 if token else None)
        if found is None:
            return error_response(401, UNAUTHORISED, {"www-authenticate": 'Bearer realm="api"'})
        librarian, role = found
        if not allows(role, needs):
            ask = await run_in_threadpool(librarians.administrators, ctx_of(request))
            return error_response(403, forbidden_message(role, needs, ask))
        try:
            return await view(request, librarian)
        except NotFound as err:
            return error_response(404, str(err))
        except BodyTooLarge as err:
            return error_response(413, str(err))
        except AwarenessError as err:
            return error_response(400, str(err))

    return guarded


# --- paging ---------------------------------------------------------------------------------

def _param(request: Request, name: str) -> str | None:
    """The query parameter ``name``, given once or not at all."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise AwarenessError(f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def _whole(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = _param(request, name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise AwarenessError(f"{name} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


def paging(request: Request) -> tuple[int, int]:
    """``limit`` and ``offset`` from the query, checked."""
    return (_whole(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
            _whole(request, "offset", 0, 0, MAX_OFFSET))


def page(rows: Sequence[Any], limit: int, offset: int) -> JSONResponse:
    """A page from ``rows``, which start at ``offset`` and hold up to ``limit + 1`` rows
    (one more than the page tells whether there is a next one)."""
    return JSONResponse({"data": list(rows[:limit]), "limit": limit, "offset": offset,
                         "next_offset": offset + limit if len(rows) > limit else None})


def page_of_all(rows: Sequence[Any], request: Request) -> JSONResponse:
    """A page of a listing the service gives whole (topics, sources, records …)."""
    limit, offset = paging(request)
    return page(rows[offset:offset + limit + 1], limit, offset)


def _id(request: Request, name: str) -> int:
    """A row id from the path; NotFound past what the database can hold (PostgreSQL would
    refuse the query)."""
    value: int = request.path_params[name]
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"no {name.removesuffix('_id')} {value}")
    return value


def _choice(request: Request, name: str, choices: Sequence[str]) -> str | None:
    value = _param(request, name) or None
    if value is not None and value not in choices:
        raise AwarenessError(f"unknown {name} {value!r}: use one of {', '.join(choices)}")
    return value


# --- views ----------------------------------------------------------------------------------

async def openapi_document(request: Request) -> Response:
    """The OpenAPI 3.1 document; public, since it holds no data."""
    return JSONResponse(openapi.document())


async def list_items(request: Request, librarian: str) -> Response:
    limit, offset = paging(request)
    source = _param(request, "source") or None
    rows = await run_in_threadpool(listing.list_items, ctx_of(request), source=source,
                                   limit=limit + 1, offset=offset)
    return page(rows, limit, offset)


async def item(request: Request, librarian: str) -> Response:
    found = await run_in_threadpool(workbench.item_detail, ctx_of(request),
                                    _id(request, "item_id"))
    return JSONResponse(found.as_json())


async def list_matches(request: Request, librarian: str) -> Response:
    limit, offset = paging(request)
    views = await run_in_threadpool(
        lambda: review.newest_matches(ctx_of(request), status=_choice(request, "status",
                                                                      MATCH_STATUSES),
                                      topic=_param(request, "topic") or None,
                                      limit=limit + 1, offset=offset))
    return page([v.as_json() for v in views], limit, offset)


async def match(request: Request, librarian: str) -> Response:
    return JSONResponse(await _match_json(request, _id(request, "match_id")))


async def _match_json(request: Request, match_id: int) -> dict[str, object]:
    view, entries = await run_in_threadpool(review.match_with_log, ctx_of(request), match_id)
    return {**view.as_json(), "reviews": [entry.as_json() for entry in entries]}


async def approve(request: Request, librarian: str) -> Response:
    return await _decide(request, librarian, "approved")


async def reject(request: Request, librarian: str) -> Response:
    return await _decide(request, librarian, "rejected")


async def _decide(request: Request, librarian: str, decision: str) -> Response:
    assert decision in DECISIONS
    note, reader_note = await _notes(request)
    match_id = _id(request, "match_id")
    await run_in_threadpool(lambda: review.decide(
        ctx_of(request), match_id, decision, librarian=librarian, note=note,
        reader_note=reader_note))
    log.info("match %s %s by %s through the API", match_id, decision, librarian)
    return JSONResponse(await _match_json(request, match_id))


async def _notes(request: Request) -> tuple[str, str | None]:
    """The optional ``note`` (review log) and ``reader_note`` of a decision's JSON body."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            raise BodyTooLarge(f"the body is over {BODY_LIMIT // 1024} KiB; a decision "
                               "carries two short notes")
    try:
        data = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise AwarenessError("the body is not JSON: send an object such as "
                             '{"note": "…", "reader_note": "…"}, or nothing') from None
    if not isinstance(data, dict) or set(data) - {"note", "reader_note"}:
        raise AwarenessError('the body is an object with "note" and "reader_note", both '
                             "optional")
    note, reader_note = data.get("note", ""), data.get("reader_note")
    if not isinstance(note, str) or not (reader_note is None or isinstance(reader_note, str)):
        raise AwarenessError('"note" and "reader_note" are text')
    if len(note) > MAX_NOTE:
        raise AwarenessError(f"the note is {len(note)} characters; use {MAX_NOTE} or fewer")
    return note.strip(), reader_note


async def list_topics(request: Request, librarian: str) -> Response:
    summaries = await run_in_threadpool(workbench.topic_summaries, ctx_of(request))
    return page_of_all([s.as_json() for s in summaries], request)


async def list_sources(request: Request, librarian: str) -> Response:
    return page_of_all(await run_in_threadpool(listing.source_health, ctx_of(request)), request)


async def list_drivers(request: Request, librarian: str) -> Response:
    views = await run_in_threadpool(drivers.list_drivers, ctx_of(request))
    return page_of_all([v.as_json() for v in views], request)


async def driver(request: Request, librarian: str) -> Response:
    view = await run_in_threadpool(drivers.get_driver, ctx_of(request),
                                   request.path_params["slug"])
    return JSONResponse(view.as_json())


async def list_subscribers(request: Request, librarian: str) -> Response:
    # Addresses go to librarians' tokens only (every token is a librarian's), never to logs.
    status = _choice(request, "status", SUBSCRIBER_STATUSES) or ""
    entries = await run_in_threadpool(roster.everyone, ctx_of(request), status)
    return page_of_all([e.as_json() for e in entries], request)


async def subscriber(request: Request, librarian: str) -> Response:
    found = await run_in_threadpool(roster.detail, ctx_of(request),
                                    _id(request, "subscriber_id"))
    return JSONResponse(found.entry.as_json())


async def list_bulletins(request: Request, librarian: str) -> Response:
    return page_of_all([bulletin_json(b) for b in ctx_of(request).bulletins()], request)


async def list_issues(request: Request, librarian: str) -> Response:
    found = await run_in_threadpool(bulletins.issues, ctx_of(request), request.path_params["slug"])
    return page_of_all([issue_json(i) for i in found], request)


def bulletin_json(bulletin: BulletinDef) -> dict[str, object]:
    """A bulletin's definition as the API shows it."""
    return {"slug": bulletin.slug, "title": bulletin.title, "description": bulletin.description,
            "send_day": bulletin.send_day, "send_time": bulletin.send_time,
            "topics": list(bulletin.all_topics), "editors": list(bulletin.editors),
            "if_unapproved": bulletin.if_unapproved, "public_archive": bulletin.public_archive}


def issue_json(found: Issue) -> dict[str, object]:
    """An issue's state as the API shows it (its entries are on the editor's page)."""
    def iso(moment: Any) -> str | None:
        return moment.isoformat() if moment else None

    return {"number": found.number, "bulletin": found.bulletin, "status": found.status,
            "covers_from": iso(found.covers_from), "due_at": iso(found.due_at),
            "created_at": iso(found.created_at), "approved_by": found.approved_by,
            "approved_at": iso(found.approved_at), "sent_at": iso(found.sent_at),
            "held_at": iso(found.held_at), "corrected_at": iso(found.corrected_at)}
