"""A librarian's own account (docs/web.md "Roles"): "Change your password", for anyone who
signs in with a password of this service, whatever their role. A single sign-on account's
password is the identity provider's: the page says so, and a POST is refused.

The current password goes through the login throttle (``LoginThrottle`` in ``security.py``):
a wrong one counts as a failed login of the name from the address, so a borrowed session
guesses no faster than the login page allows, and a lockout covers both. A new password ends
every session of the librarian (``librarians.set_password``); this browser goes on in a fresh
session with a new CSRF token, as after a login (W4).
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.service import librarians
from awareness.service.librarians import MIN_PASSWORD
from awareness.web.guards import (
    PASSWORD_LIMIT,
    THROTTLED,
    checked_form,
    client_address,
    ctx_of,
    done,
    form_route,
    librarian_only,
    page_with_flash,
    security_of,
)
from awareness.web.pages import render
from awareness.web.security import Session, new_session

log = logging.getLogger(__name__)

TEMPLATE = "account_password.html"
SSO_REFUSAL = ("You sign in with single sign-on: your password belongs to your identity "
               "provider, so change it there.")
CHANGED = "Your password is changed; you were signed out everywhere else."
# The form's fields, each named as its input's id, which its error links to.
CURRENT, NEW, AGAIN = "current-password", "new-password", "new-password-again"


def routes() -> list[Route]:
    """The routes of this page."""
    return [
        Route("/account/password", password_page),
        form_route("/account/password", password_submit),
    ]


@librarian_only
async def password_page(request: Request, session: Session) -> Response:
    sso = await run_in_threadpool(librarians.signs_in_with_sso, ctx_of(request),
                                  str(session.name))
    return page_with_flash(request, TEMPLATE, session, sso=sso, problems={},
                           min_password=MIN_PASSWORD)


@librarian_only
async def password_submit(request: Request, session: Session) -> Response:
    form = await checked_form(request, session)
    name, ctx = str(session.name), ctx_of(request)
    if await run_in_threadpool(librarians.signs_in_with_sso, ctx, name):
        raise HTTPException(403, SSO_REFUSAL)
    if request.app.state.throttle.is_blocked(client_address(request), name):
        log.warning("password change refused (throttled) for %r from %s", name,
                    client_address(request))
        response = _again(request, session, {CURRENT: THROTTLED}, 429)
        response.headers["retry-after"] = "60"
        return response
    new = str(form.get(NEW, ""))
    problems = await _problems(request, name, form)
    if problems:
        return _again(request, session, problems, 400)
    version = await run_in_threadpool(lambda: librarians.set_password(ctx, name, new, by=name))
    log.info("librarian %s changed their password from %s", name, client_address(request))
    response = done(request, "/dashboard", CHANGED)
    security_of(request).write_session(response, new_session(name, version))
    return response


def _again(request: Request, session: Session, problems: dict[str, str],
           status: int) -> Response:
    """The form again, saying what to fix; nothing typed is put back in a password field."""
    return render(request, TEMPLATE, status_code=status, session=session, sso=False,
                  problems=problems, min_password=MIN_PASSWORD)


async def _problems(request: Request, name: str, form: FormData) -> dict[str, str]:
    """What is wrong with the form, by field in the form's order."""
    problems = new_password_problems(str(form.get(NEW, "")), str(form.get(AGAIN, "")))
    wrong = await _current_problem(request, name, str(form.get(CURRENT, "")))
    return {CURRENT: wrong, **problems} if wrong else problems


def new_password_problems(new: str, again: str) -> dict[str, str]:
    """The new password's problem, by field: too short, or typed differently the second
    time."""
    if len(new) < MIN_PASSWORD:
        return {NEW: f"Your new password must be at least {MIN_PASSWORD} characters long."}
    if new != again:
        return {AGAIN: "The new password was typed differently the second time: type it "
                         "again."}
    return {}


async def _current_problem(request: Request, name: str, current: str) -> str:
    """Why the current password is refused ("" when it is right). A wrong one is counted as
    a failed login; a right one clears the name's count, as a login does."""
    if not current:
        return "Enter your current password."
    throttle, address = request.app.state.throttle, client_address(request)
    if await run_in_threadpool(librarians.authenticate, ctx_of(request), name,
                               current[:PASSWORD_LIMIT]) is None:
        throttle.record_failure(address, name)
        log.warning("wrong current password for %r from %s", name, address)
        return "Your current password is wrong."
    throttle.record_success(name)
    return ""
