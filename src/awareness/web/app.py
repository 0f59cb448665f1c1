"""The web app: thin views over the service layer (validate, call one service function, render).

Librarians sign in to review pending matches; staff follow digest links to driver records and
to the one-click unsubscribe page. Domain errors become HTTP responses in one place
(``_error_handlers``); anything unexpected becomes a 500 page carrying a request id, and the
exception is logged with that id (RELIABILITY W13). Security measures live in ``security.py``
and are described in docs/web.md; the guards every page module shares (sign-in, checked forms)
in ``guards.py``. The page modules (``review``, ``drivers``, ``topics``, ``digest_view``,
``subscribe``, ``subscribers``, ``bulletins``, and the workbench's ``dashboard``, ``items``,
``sources``, ``topic_admin``, ``sends``; the administrators' ``librarians``; ``account``,
one's own password) add their routes here; none of them imports this module, which only the
entry point (``cli/run.py``) and the tests import.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from awareness.errors import AwarenessError, NotFound
from awareness.mail.compose import mask_address
from awareness.roles import allows
from awareness.service import drivers, librarians, people, subscribing
from awareness.service.context import Context
from awareness.web import account, api, operations, sso
from awareness.web import bulletins as bulletin_pages
from awareness.web import clicks as click_pages
from awareness.web import dashboard as dashboard_pages
from awareness.web import digest_view as digest_pages
from awareness.web import drivers as driver_pages
from awareness.web import feedback as feedback_pages
from awareness.web import items as item_pages
from awareness.web import librarians as librarian_pages
from awareness.web import reports as report_pages
from awareness.web import review as review_pages
from awareness.web import sends as send_pages
from awareness.web import sources as source_pages
from awareness.web import subscribe as subscribe_pages
from awareness.web import subscribers as subscriber_pages
from awareness.web import topic_admin as topic_admin_pages
from awareness.web import topics as topic_pages
from awareness.web.guards import (
    PASSWORD_LIMIT,
    THROTTLED,
    checked_form,
    client_address,
    ctx_of,
    current_librarian,
    form_route,
    librarian_only,
    security_of,
)
from awareness.web.pages import make_environment, redirect, render
from awareness.web.security import (
    LoginThrottle,
    SecurityHeadersMiddleware,
    Session,
    WebSecurity,
    is_safe_next,
    new_session,
)

log = logging.getLogger(__name__)


class RowId(IntegerConvertor):
    """An id in a path (``{match_id:int}``): at most nine digits. Ids are 32-bit integers in
    the database, and a larger number reached PostgreSQL as "integer out of range", a 500; a
    path with one now matches no route, which is "not found"."""

    regex = "[0-9]{1,9}"


# Before any route is made: a route compiles its path with the convertors registered then.
register_url_convertor("int", RowId())

STATIC_DIR = Path(__file__).parent / "static"
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")


def create_app(ctx: Context) -> Starlette:
    """The web app for ``ctx``. ``app.state.health_checks`` takes extra /healthz checks;
    ``app.state.role`` says whether this process leads the scheduler (/healthz shows it)."""
    security = WebSecurity.from_settings(ctx.settings)
    app = Starlette(
        routes=_routes(),
        middleware=[Middleware(SecurityHeadersMiddleware, https=security.https,
                               form_targets=sso.form_targets(ctx.settings)),
                    Middleware(ErrorPageMiddleware)],
        exception_handlers=_error_handlers(),
    )
    app.state.ctx = ctx
    app.state.security = security
    app.state.templates = make_environment(ctx.templates_dir, ctx.settings.timezone)
    app.state.throttle = LoginThrottle()
    app.state.sso = sso.make_client(ctx.settings)
    operations.prepare(app, ctx)
    return app


def _routes() -> list[Route | Mount]:
    return [
        *topic_pages.routes(),
        *review_pages.routes(),
        *driver_pages.routes(),
        *subscribe_pages.routes(),
        *digest_pages.routes(),
        *feedback_pages.routes(),
        *click_pages.routes(),
        *report_pages.routes(),
        *subscriber_pages.routes(),
        *bulletin_pages.routes(),
        *dashboard_pages.routes(),
        *item_pages.routes(),
        *source_pages.routes(),
        *topic_admin_pages.routes(),
        *send_pages.routes(),
        *librarian_pages.routes(),
        *account.routes(),
        *sso.routes(),
        *api.routes(),
        Route("/", home),
        Route("/login", login_form),
        form_route("/login", login_submit),
        form_route("/logout", logout),
        Route("/drivers", driver_list),
        Route("/drivers/{slug}", driver_page),
        Route("/unsubscribe/{token}", unsubscribe_confirm),
        form_route("/unsubscribe/{token}", unsubscribe_now),
        *operations.routes(),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


# --- views: sign in -------------------------------------------------------------------------

async def home(request: Request) -> Response:
    # Staff who open the service's address come for the topics they can sign up to; the
    # librarians' sign-in is a link at the foot of every public page.
    signed_in = await current_librarian(request) is not None
    return redirect(request, "/dashboard" if signed_in else "/topics")


async def login_form(request: Request) -> Response:
    next_url = request.query_params.get("next", "")
    if await current_librarian(request) is not None:
        return redirect(request, next_url if is_safe_next(next_url) else "/review")
    security = security_of(request)
    session = security.read_session(request) or new_session()
    flash = security.read_flash(request)
    response = render(request, "login.html", session=session, error=None, flash=flash,
                      next=next_url if is_safe_next(next_url) else "", name="",
                      sso_name=_sso_name(request))
    security.write_session(response, session)
    if flash:
        security.clear_flash(response)
    return response


async def login_submit(request: Request) -> Response:
    security, throttle = security_of(request), request.app.state.throttle
    session = security.read_session(request)
    form = await checked_form(request, session)
    assert session is not None  # checked_form refuses requests without one
    name, password = str(form.get("name", ""))[:100].strip(), str(form.get("password", ""))
    next_url = str(form.get("next", ""))
    address = client_address(request)

    def again(error: str, status: int) -> Response:
        return render(request, "login.html", status_code=status, session=session, error=error,
                      next=next_url if is_safe_next(next_url) else "", name=name,
                      sso_name=_sso_name(request))

    if throttle.is_blocked(address, name):
        log.warning("login refused (throttled) for %r from %s", name, address)
        response = again(THROTTLED, 429)
        response.headers["retry-after"] = "60"
        return response
    result = await run_in_threadpool(librarians.authenticate, ctx_of(request), name,
                                     password[:PASSWORD_LIMIT])
    if result is None:
        throttle.record_failure(address, name)
        log.warning("failed login for %r from %s", name, address)
        return again("The name or password is wrong.", 200)
    throttle.record_success(name)
    log.info("librarian %s signed in from %s", result[0], address)
    response = redirect(request, next_url if is_safe_next(next_url) else "/review")
    security.write_session(response, new_session(*result))
    return response


def _sso_name(request: Request) -> str:
    """What the single sign-on button says after "Sign in with"; "" without single sign-on."""
    settings = ctx_of(request).settings.sso
    return settings.name if settings.enabled else ""


@librarian_only
async def logout(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    assert session.name is not None
    await run_in_threadpool(librarians.end_sessions, ctx_of(request), session.name)
    response = redirect(request, "/login")
    security_of(request).clear_session(response)
    security_of(request).write_flash(response, "You are signed out.")
    return response


# --- views: public pages --------------------------------------------------------------------

async def driver_list(request: Request) -> Response:
    # Drafts and their internal text are for librarians only (issue 14).
    session = await current_librarian(request)
    where = driver_pages.driver_filter(
        request, may_restore=session is not None and allows(session.role, "editor"))
    records = await run_in_threadpool(lambda: drivers.list_drivers(
        ctx_of(request), where, drafts=session is not None))
    security = security_of(request)
    flash = security.read_flash(request) if session else None  # "Deleted: …"
    members = (await driver_pages.members_to_choose(ctx_of(request), where.member)
               if session else [])  # the filter is the librarians'
    response = render(request, "drivers.html", session=session, records=records, where=where,
                      due_statuses=driver_pages.DUE_STATUSES, flash=flash, members=members)
    if flash:
        security.clear_flash(response)
    return response


async def driver_page(request: Request) -> Response:
    # A draft is not found for anyone but a librarian, and only librarians see the history
    # (who changed what is internal text) and the items of matches still to be decided.
    session = await current_librarian(request)
    record = await run_in_threadpool(lambda: drivers.get_driver(
        ctx_of(request), request.path_params["slug"], librarian=session is not None))
    return await driver_pages.record_page(request, session, record)


# RFC 8058 one-click unsubscribe. A GET never changes anything (scanners and link checkers
# follow links, E10); the POST needs nothing but the token: no cookie, no CSRF token, no
# Origin, any body (mail providers send ``List-Unsubscribe=One-Click``, E9). Neither reads
# or sets a cookie.

async def unsubscribe_confirm(request: Request) -> Response:
    token = request.path_params["token"]
    subscriber = (await run_in_threadpool(people.subscriber_for_token, ctx_of(request), token)
                  if TOKEN.fullmatch(token) else None)
    if subscriber is None:
        return render(request, "unsubscribe_unknown.html", status_code=404)
    titles = {t.slug: t.name for t in ctx_of(request).topics()}
    return render(request, "unsubscribe.html", token=token,
                  address=mask_address(subscriber.email), active=subscriber.active,
                  digests=[(titles.get(slug, slug), how)
                           for slug, how in sorted(subscriber.subscriptions)],
                  bulletins=subscriber.bulletins)


async def unsubscribe_now(request: Request) -> Response:
    token = request.path_params["token"]
    done = TOKEN.fullmatch(token) is not None and await run_in_threadpool(
        subscribing.unsubscribe, ctx_of(request), token)
    if not done:
        return render(request, "unsubscribe_unknown.html", status_code=404)
    return render(request, "unsubscribed.html")


# --- errors ---------------------------------------------------------------------------------

# What each error is, in words a member of staff would use (HTTP's own phrases, such as
# "Not Found" or "Method Not Allowed", are for machines); the status is on the page too.
HEADINGS = {400: "That could not be done", 403: "Not allowed", 404: "Page not found",
            405: "That cannot be done here", 413: "Too much to send", 429: "Too many requests",
            500: "Something went wrong", 503: "The service is busy"}


def error_page(request: Request, status: int, message: str,
               headers: dict[str, str] | None = None, *,
               session: Session | None = None) -> HTMLResponse:
    """The one error page: a status, a sentence, and the request id to quote; in the
    librarians' layout for a signed-in librarian (``session``), else in the public one."""
    response = render(request, "error.html", status_code=status, session=session, code=status,
                      heading=HEADINGS.get(status, HTTPStatus(status).phrase), message=message,
                      request_id=request.scope.get("state", {}).get("request_id", ""))
    response.headers.update(headers or {})
    return response


async def _signed_in(request: Request) -> Session | None:
    """The librarian behind a request that failed with a 4xx, for the error page's layout;
    none if that cannot be told (the page is then the public one)."""
    try:
        return await current_librarian(request)
    except Exception:  # the error page must not fail in its turn
        log.warning("no librarian for the error page of %s", request.url.path, exc_info=True)
        return None


def _error_handlers() -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    # Under /api/ every error is JSON (web/api.py), a 404 for an unknown path included.
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        known = exc.detail != HTTPStatus(exc.status_code).phrase
        if api.is_api(request.url.path):
            return api.error_response(exc.status_code, exc.detail, dict(exc.headers or {}))
        return error_page(request, exc.status_code, exc.detail if known else "",
                          dict(exc.headers or {}), session=await _signed_in(request))

    async def not_found(request: Request, exc: Exception) -> Response:
        if api.is_api(request.url.path):
            return api.error_response(404, str(exc))
        return error_page(request, 404, str(exc), session=await _signed_in(request))

    async def domain_error(request: Request, exc: Exception) -> Response:
        if api.is_api(request.url.path):
            return api.error_response(400, str(exc))
        return error_page(request, 400, str(exc), session=await _signed_in(request))

    return {HTTPException: http_error, NotFound: not_found, AwarenessError: domain_error}


class ErrorPageMiddleware:
    """Gives each request an id; turns an unexpected exception into a 500 page carrying
    that id, and logs the exception with it (no traceback or SQL reaches the browser)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message).append("x-request-id", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unexpected error in %s %s (request %s)", scope.get("method"),
                          scope.get("path"), request_id)
            if started:
                raise
            message = "Something went wrong on our side. It has been logged."
            response = (api.error_response(500, f"{message} Request {request_id}.")
                        if api.is_api(str(scope.get("path", "")))
                        else error_page(Request(scope, receive), 500, message))
            await response(scope, receive, send_with_id)
