"""The administrators' pages (roles, issue 14 item 6; docs/web.md "Roles"): every librarian
with their role and a form to change it, a way to remove one who left, the accounts'
history, and the settings in force.

A role change or a removal is a POST with the session's CSRF token, recorded with who made
it. An administrator cannot change their own role nor remove themselves (so the last
administrator cannot lock everyone out); a single sign-on account's role comes from its
groups at every sign-in, so the page shows it without a form. The settings page shows every
setting's value in force and, for a secret, only whether it is set.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.roles import ROLES, WHAT_EACH_MAY
from awareness.service import librarians
from awareness.settings import Setting, effective_values
from awareness.web.guards import (
    administrator_only,
    checked_form,
    ctx_of,
    done,
    form_route,
    page_with_flash,
)
from awareness.web.security import Session

NAME_LIMIT = 100


def routes() -> list[Route]:
    """The routes of these pages."""
    return [
        Route("/librarians", list_page),
        form_route("/librarians/{name}/role", change_role),
        Route("/librarians/{name}/remove", remove_page),
        form_route("/librarians/{name}/remove", remove_submit),
        Route("/settings", settings_page),
    ]


@administrator_only
async def list_page(request: Request, session: Session) -> Response:
    ctx = ctx_of(request)
    accounts = await run_in_threadpool(librarians.everyone, ctx)
    history = await run_in_threadpool(librarians.history, ctx)
    return page_with_flash(request, "librarians.html", session, accounts=accounts,
                           history=history, roles=ROLES, what_each_may=WHAT_EACH_MAY,
                           sso=ctx.settings.sso.enabled)


@administrator_only
async def change_role(request: Request, session: Session) -> Response:
    form = await checked_form(request, session)
    name = _other_than(request, session, "You cannot change your own role: ask another "
                                         "administrator.")
    role = str(form.get("role", ""))
    changed = await run_in_threadpool(lambda: librarians.set_role(
        ctx_of(request), name, role, by=str(session.name)))
    return done(request, "/librarians",
                f"{name} is now {_a(role)} {role}." if changed else f"{name} was already {role}.")


@administrator_only
async def remove_page(request: Request, session: Session) -> Response:
    name = _other_than(request, session, "You cannot remove yourself: ask another "
                                         "administrator.")
    accounts = await run_in_threadpool(librarians.everyone, ctx_of(request))
    account = next((a for a in accounts if a.name == name), None)
    if account is None:
        raise HTTPException(404)
    return page_with_flash(request, "librarian_remove.html", session, account=account)


@administrator_only
async def remove_submit(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    name = _other_than(request, session, "You cannot remove yourself: ask another "
                                         "administrator.")
    revoked = await run_in_threadpool(lambda: librarians.remove(
        ctx_of(request), name, by=str(session.name)))
    tokens = f" and {revoked} API token{'' if revoked == 1 else 's'} revoked" if revoked else ""
    return done(request, "/librarians", f"{name} was removed: signed out everywhere{tokens}.")


def _other_than(request: Request, session: Session, refusal: str) -> str:
    """The librarian the path names, who must not be the one signed in."""
    name = str(request.path_params["name"])[:NAME_LIMIT]
    if name == session.name:
        raise HTTPException(403, refusal)
    return name


@administrator_only
async def settings_page(request: Request, session: Session) -> Response:
    settings = ctx_of(request).settings
    sections: dict[str, list[tuple[Setting, str]]] = {}
    for declared, value in effective_values(settings):
        sections.setdefault(declared.section, []).append((declared, value))
    return page_with_flash(request, "settings.html", session, sections=list(sections.items()),
                           config_path=str(settings.config_path or ""))


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
