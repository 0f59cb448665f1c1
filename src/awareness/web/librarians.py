"""The administrators' pages (roles, issue 14 item 6; docs/web.md "Roles"): every librarian
with their role and a form to change it, the accounts' history, and the settings in force.

A role change is a POST with the session's CSRF token, recorded with who made it. An
administrator cannot change their own role (so the last administrator cannot lock everyone
out); a single sign-on account's role comes from its groups at every sign-in, so the page
shows it without a form. The settings page shows every setting's value in force and, for a
secret, only whether it is set.
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
    name = str(request.path_params["name"])[:NAME_LIMIT]
    role = str(form.get("role", ""))
    if name == session.name:
        raise HTTPException(403, "You cannot change your own role: ask another administrator.")
    changed = await run_in_threadpool(lambda: librarians.set_role(
        ctx_of(request), name, role, by=str(session.name)))
    return done(request, "/librarians",
                f"{name} is now {_a(role)} {role}." if changed else f"{name} was already {role}.")


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
