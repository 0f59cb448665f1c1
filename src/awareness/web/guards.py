"""What every page module shares: the request's context and security, the signed-in librarian,
and the guards: "librarians only" (W11) and its stricter forms "editors" and "administrators"
(roles, issue 14 item 6: ``awareness/roles.py``), and "a form from our own page" (W3).

These lived in ``app.py``, which the page modules imported while ``app.py`` imported them back
(issue 11). Here they depend on nothing in ``web/`` but ``pages`` and ``security``, so
``app.py`` imports the page modules and no page module imports ``app.py``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from awareness.roles import WHAT_EACH_MAY, allows
from awareness.service import librarians
from awareness.service.context import Context
from awareness.web.pages import redirect, render, route_path
from awareness.web.security import Session, WebSecurity, csrf_matches

FORM_LIMIT = 64 * 1024  # bytes; our forms hold a token, a name, a password or a short note
PASSWORD_LIMIT = 1024  # characters of a typed password that are checked (sign-in, own password)
THROTTLED = "Too many failed attempts. Wait a minute, then try again."  # the login throttle's 429
BAD_FORM = ("This form has expired or came from another site. "
            "Go back, reload the page and try again.")


def form_route(path: str, view: Callable[[Request], Awaitable[Response]]) -> Route:
    """A POST route for one of our forms, its body capped at ``FORM_LIMIT``."""
    return Route(path, view, methods=["POST"], max_body_size=FORM_LIMIT)


def ctx_of(request: Request) -> Context:
    """The service context the app was created with."""
    return request.app.state.ctx


def bearer_token(request: Request) -> str:
    """The token of an ``Authorization: Bearer`` header, or "" (the scheme is
    case-insensitive, RFC 7235 section 2.1: ``bearer`` and ``BEARER`` name it too)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def security_of(request: Request) -> WebSecurity:
    """The app's cookie, CSRF and header settings."""
    return request.app.state.security


def client_address(request: Request) -> str:
    """The address the request came from, as the login throttle and the logs count it."""
    return request.client.host if request.client else "unknown"


async def current_librarian(request: Request) -> Session | None:
    """The signed-in librarian's session, with their role, if its cookie is intact and not
    logged out since."""
    session = security_of(request).read_session(request)
    if session is None or session.name is None:
        return None
    found = await run_in_threadpool(librarians.standing, ctx_of(request), session.name)
    if found is None or found[0] != session.version:
        return None
    return dataclasses.replace(session, role=found[1])


LibrarianView = Callable[[Request, Session], Awaitable[Response]]


def requires(needed: str) -> Callable[[LibrarianView], Callable[[Request], Awaitable[Response]]]:
    """A guard for views that need the role ``needed`` or above: visitors who are not
    signed in go to the login page, then back (W11); a librarian whose role is lower gets
    a 403 page saying which role it needs (before any form is read or anything changes)."""
    def decorate(view: LibrarianView) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(view)
        async def guarded(request: Request) -> Response:
            session = await current_librarian(request)
            if session is None:
                query = f"?{request.url.query}" if request.url.query else ""
                target = route_path(request) + query
                return redirect(request, f"/login?next={quote(target, safe='')}")
            if not allows(session.role, needed):
                ask = await run_in_threadpool(librarians.administrators, ctx_of(request))
                raise HTTPException(403, forbidden_message(session.role, needed, ask))
            return await view(request, session)

        return guarded

    return decorate


def forbidden_message(role: str, needed: str, administrators: Sequence[str]) -> str:
    """The sentence a librarian reads when their role does not allow an action: what it
    needs, and whom to ask by name (only administrators can open the Librarians page, so
    "an administrator" alone leaves a reviewer asking around)."""
    whom = f" ({', '.join(administrators)})" if administrators else ""
    return (f"This needs the {needed} role; you are signed in as {_a(role)} {role}, who may "
            f"{WHAT_EACH_MAY.get(role, 'do nothing')}. To do this, ask an administrator{whom} "
            "to change your role on the Librarians page.")


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


librarian_only = requires("reviewer")
editor_only = requires("editor")
administrator_only = requires("administrator")


async def checked_form(request: Request, session: Session | None, *,
                       max_fields: int = 20) -> FormData:
    """The posted form, once the request is same-site and carries the session's token (W3).
    ``max_fields`` is for a form with a field per topic; the body is capped either way."""
    if security_of(request).is_cross_site(request):
        raise HTTPException(403, BAD_FORM)
    form = await request.form(max_files=0, max_fields=max_fields)
    if not csrf_matches(session, form.get("csrf")):
        raise HTTPException(403, BAD_FORM)
    return form


def page_with_flash(request: Request, template: str, session: Session | None, *,
                    status_code: int = 200, **values: object) -> HTMLResponse:
    """A page with the one-line notice the last action left, if any (a visitor without a
    session has none)."""
    security = security_of(request)
    flash = security.read_flash(request) if session else None
    response = render(request, template, status_code=status_code, session=session,
                      flash=flash, **values)
    if flash:
        security.clear_flash(response)
    return response


def done(request: Request, path: str, notice: str) -> Response:
    """After a POST: back to ``path`` (303) with a one-line notice."""
    response = redirect(request, path)
    security_of(request).write_flash(response, notice)
    return response
