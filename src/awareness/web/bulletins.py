"""The bulletin pages (issue 13; docs/bulletins.md): librarians see every bulletin and its open
issue, and its editors finish the issue on the web; anyone reads the list of bulletins whose
archive is public, such an archive, its sent issues and its Atom feed; a subscriber stops
bulletins from the link in one.

Every editing action is a small POST form carrying the session's CSRF token and answered with
303 back to the editor, so the page works without JavaScript; a GET never changes anything
(the list does not even draft: "Draft the next issue now" is a button). The archive shows
what readers got and nothing internal: no drafts, no editor's name, no held state, no removed
entries. ``/bulletins/stop/{token}`` is RFC 8058's one-click POST, like ``/unsubscribe``: no
cookie, no CSRF token, no Origin needed, because mail providers send it from elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.addresses import address_problem
from awareness.bulletins.build import DIRECTIONS, Issue, IssueSection
from awareness.bulletins.config import BulletinDef
from awareness.digests.subscribers import Subscriber
from awareness.errors import AwarenessError, NotFound
from awareness.mail.compose import mask_address
from awareness.roles import allows
from awareness.service import bulletins, librarians, people
from awareness.service.bulletins import NotEditor
from awareness.service.context import Context
from awareness.web.guards import (
    checked_form,
    ctx_of,
    current_librarian,
    done,
    editor_only,
    form_route,
    librarian_only,
    page_with_flash,
)
from awareness.web.pages import render
from awareness.web.security import Session

ISSUE = "/bulletins/{slug}/{number:int}"
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
MAX_ID = 2**31 - 1  # an INTEGER column: past it SQLite raises an overflow, a 500
MAX_TEXT = 8000  # characters read from a text field; the service keeps fewer
MAX_FIND = 300
ATOM = "application/atom+xml"
# The preview shows the mail in sandboxed iframes (srcdoc), which inherit this page's policy:
# the mail's inline styles and its https logo must be allowed; scripts stay off everywhere.
PREVIEW_CSP = ("default-src 'self'; img-src 'self' https: data:; "
               "style-src 'self' 'unsafe-inline'; script-src 'none'; frame-ancestors 'none'; "
               "form-action 'self'; base-uri 'none'")
NOT_AN_EDITOR = ("You are not one of the editors of {title}. The bulletin's file "
                 "(subscriptions/bulletins/{slug}.toml) names its editors; ask one of them, "
                 "or ask for your name to be added.")

Change = Callable[[Context, str, int, FormData, str], tuple[str, str]]


def routes() -> list[Route]:
    """The routes of these pages (the feed before ``/bulletins/{slug}``, which would take
    ``slug.atom`` as a slug)."""
    return [
        Route("/bulletins", list_page),
        Route("/bulletins/stop/{token}", stop_confirm),
        form_route("/bulletins/stop/{token}", stop_now),
        Route("/bulletins/{slug}.atom", feed),
        Route("/bulletins/{slug}", archive_page),
        form_route("/bulletins/{slug}/draft", draft_now),
        Route(ISSUE, issue_page),
        Route(f"{ISSUE}/edit", edit_page),
        Route(f"{ISSUE}/preview", preview_page),
        *(form_route(f"{ISSUE}/{name}", _action(change)) for name, change in ACTIONS.items()),
    ]


# --- helpers ---------------------------------------------------------------------------------





def _ref(request: Request) -> tuple[str, int]:
    """The bulletin and issue number in the path."""
    number = int(request.path_params["number"])
    if number > MAX_ID:
        raise NotFound(f"no issue {number}")
    return str(request.path_params["slug"]), number


def _edit_path(slug: str, number: int, anchor: str = "") -> str:
    return f"/bulletins/{slug}/{number}/edit" + (f"#{anchor}" if anchor else "")


def _number(form: FormData, name: str) -> int:
    """An id posted by one of our forms; a refusal naming the field otherwise."""
    value = str(form.get(name, ""))
    if not value.isascii() or not value.isdigit() or int(value) > MAX_ID:
        raise AwarenessError(f"the form sent no valid {name}; reload the page and try again")
    return int(value)


def _text(form: FormData, name: str) -> str:
    """A text field as typed: browsers send a textarea's line breaks as CRLF (HTML's form
    encoding), and the mail's paragraphs are split at blank lines."""
    return str(form.get(name, ""))[:MAX_TEXT].replace("\r\n", "\n").replace("\r", "\n")


# --- librarians: every bulletin --------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """A bulletin on the list: its open issue (if drafted) and its latest sent one."""

    bulletin: BulletinDef
    open: Issue | None
    last_sent: Issue | None


def _rows(ctx: Context) -> list[Row]:
    rows = []
    for bulletin in ctx.bulletins():
        issues = bulletins.issues(ctx, bulletin.slug)
        rows.append(Row(bulletin, next((i for i in issues if i.status != "sent"), None),
                        next((i for i in issues if i.status == "sent"), None)))
    return rows


async def list_page(request: Request) -> Response:
    """Librarians: every bulletin with its open issue. Anyone else: the bulletins whose
    archive is public, each with its latest issue (their archives are public already)."""
    session = await current_librarian(request)
    if session is None:
        archives = await run_in_threadpool(bulletins.public_archives, ctx_of(request))
        return render(request, "bulletins_public.html", archives=archives)
    rows = await run_in_threadpool(_rows, ctx_of(request))
    return page_with_flash(request, "bulletins.html", session, rows=rows)


@editor_only
async def draft_now(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    slug, ctx = str(request.path_params["slug"]), ctx_of(request)
    await run_in_threadpool(_may_edit, ctx, slug, session)
    found, created = await run_in_threadpool(bulletins.draft_now, ctx, slug)
    if created:
        notice = f"Issue {found.number} is drafted with every item approved for it so far."
    elif found.status == "draft":
        notice = f"Issue {found.number} now has every item approved for it so far."
    else:  # approved meanwhile: items are added only to a draft
        notice = f"Issue {found.number} is {found.status}, so nothing was added."
    return done(request, _edit_path(slug, found.number), notice)


# --- librarians: the editor ------------------------------------------------------------------

def _may_edit_issue(bulletin: BulletinDef, session: Session) -> bool:
    """Does the librarian hold the editor role (or above) and, when the bulletin's file
    names its editors, is one of them? (docs/web.md, Roles)"""
    return allows(session.role, "editor") and bulletin.may_edit(str(session.name))


def _may_edit(ctx: Context, slug: str, session: Session) -> BulletinDef:
    bulletin = ctx.bulletin(slug)
    if not bulletin.may_edit(str(session.name)):
        raise HTTPException(403, NOT_AN_EDITOR.format(title=bulletin.title, slug=slug))
    return bulletin


def _editor_values(ctx: Context, slug: str, number: int, session: Session,
                   find: str) -> dict[str, Any]:
    """Everything the editor shows, read in one go."""
    bulletin = _may_edit(ctx, slug, session)
    found = bulletins.issue(ctx, slug, number)
    own = librarians.email_of(ctx, str(session.name))
    return {
        "bulletin": bulletin, "issue": found,
        "sections": bulletins.sections(ctx, bulletin, found),
        "removed": [e for e in found.entries if e.removed],
        "section_titles": bulletins.section_titles(ctx, bulletin),
        "spotlights": bulletins.spotlight_choices(ctx),
        "find": find, "results": bulletins.find_items(ctx, find) if find else [],
        "test_to": own, "own_address": own,  # test_to: what the field holds
    }


async def _editor(request: Request, session: Session, slug: str, number: int, *,
                  error: str | None = None, status_code: int = 200,
                  typed: FormData | None = None) -> Response:
    find = request.query_params.get("find", "")[:MAX_FIND].strip()
    values = await run_in_threadpool(_editor_values, ctx_of(request), slug, number, session,
                                     find)
    if typed is not None and "to" in typed:  # a refused test address is shown to correct
        values["test_to"] = _text(typed, "to").strip()
    return page_with_flash(request, "bulletin_edit.html", session, status_code=status_code,
                           error=error, **values)


@editor_only
async def edit_page(request: Request, session: Session) -> Response:
    slug, number = _ref(request)
    return await _editor(request, session, slug, number)


def _action(change: Change) -> Callable[[Request], Awaitable[Response]]:
    """A POST of the editor: check the form, make the change, 303 back to the editor with a
    notice (and an anchor at what changed); a change that does not apply shows the editor
    again with the reason."""
    @editor_only
    async def view(request: Request, session: Session) -> Response:
        form = await checked_form(request, session)
        slug, number = _ref(request)
        ctx = ctx_of(request)
        await run_in_threadpool(_may_edit, ctx, slug, session)
        try:
            notice, anchor = await run_in_threadpool(change, ctx, slug, number, form,
                                                     str(session.name))
        except NotEditor as refused:
            raise HTTPException(403, str(refused)) from None
        except NotFound:
            raise
        except AwarenessError as refused:
            return await _editor(request, session, slug, number, error=str(refused),
                                 status_code=400, typed=form)
        if change is _send_test and (nudge := getattr(request.app.state, "nudge_relay", None)):
            nudge()
        return done(request, _edit_path(slug, number, anchor), notice)

    view.__name__ = change.__name__.lstrip("_")
    return view


def _said(notice: str, approver: str | None) -> str:
    """The notice of a change, saying so when it took the issue's approval back."""
    if approver is None:
        return notice
    return (f"{notice} The issue changed after {approver} approved it, so it is a draft "
            "again: approve it to send it.")


def _set_intro(ctx: Context, slug: str, number: int, form: FormData, by: str
               ) -> tuple[str, str]:
    approver = bulletins.set_intro(ctx, slug, number, _text(form, "intro"), by=by)
    return _said("Introduction saved.", approver), "introduction"


def _move(ctx: Context, slug: str, number: int, form: FormData, by: str) -> tuple[str, str]:
    entry, direction = _number(form, "entry"), str(form.get("direction", ""))
    if direction not in DIRECTIONS:
        raise AwarenessError("an item moves up or down; reload the page and try again")
    approver = bulletins.move_entry(ctx, slug, number, entry, direction, by=by)
    return _said(f"Moved {direction}.", approver), f"entry-{entry}"


def _move_to(ctx: Context, slug: str, number: int, form: FormData, by: str
             ) -> tuple[str, str]:
    entry, section = _number(form, "entry"), _text(form, "section")
    approver = bulletins.move_to_section(ctx, slug, number, entry, section, by=by)
    return _said(f"Moved to the end of {section}.", approver), f"entry-{entry}"


def _remove(ctx: Context, slug: str, number: int, form: FormData, by: str) -> tuple[str, str]:
    approver = bulletins.remove_entry(ctx, slug, number, _number(form, "entry"), by=by)
    return _said("Removed. It is listed under Removed items, where Put back undoes it.",
                 approver), "removed"


def _put_back(ctx: Context, slug: str, number: int, form: FormData, by: str
              ) -> tuple[str, str]:
    entry = _number(form, "entry")
    approver = bulletins.remove_entry(ctx, slug, number, entry, by=by, removed=False)
    return _said("Put back where it was.", approver), f"entry-{entry}"


def _set_note(ctx: Context, slug: str, number: int, form: FormData, by: str
              ) -> tuple[str, str]:
    entry = _number(form, "entry")
    approver = bulletins.set_note(ctx, slug, number, entry, _text(form, "note"), by=by)
    return _said("Why it matters: saved.", approver), f"entry-{entry}"


def _add(ctx: Context, slug: str, number: int, form: FormData, by: str) -> tuple[str, str]:
    section = _text(form, "section")
    approver = bulletins.add_item(ctx, slug, number, _number(form, "item"), section, by=by)
    return _said(f"Added at the end of {section}.", approver), "sections"


def _set_spotlight(ctx: Context, slug: str, number: int, form: FormData, by: str
                   ) -> tuple[str, str]:
    record = _text(form, "record")
    approver = bulletins.set_spotlight(ctx, slug, number, record, by=by)
    return _said("Policy spotlight chosen." if record else "No policy spotlight.",
                 approver), "spotlight"


def _send_test(ctx: Context, slug: str, number: int, form: FormData, by: str
               ) -> tuple[str, str]:
    to = _text(form, "to").strip()
    problem = address_problem(to)
    if problem:
        raise AwarenessError(f"Send a test to: {to or 'nothing'} is not an address: {problem}")
    bulletins.send_test(ctx, slug, number, to, by=by)
    return f"A test copy, marked [TEST], is on its way to {to}.", "test"


def _approve(ctx: Context, slug: str, number: int, form: FormData, by: str) -> tuple[str, str]:
    found = bulletins.approve(ctx, slug, number, by=by)
    return (f"Approved. Issue {found.number} goes out at its time, or at the next pass if "
            "that has passed."), "approval"


def _reopen(ctx: Context, slug: str, number: int, form: FormData, by: str) -> tuple[str, str]:
    bulletins.reopen(ctx, slug, number, by=by)
    return "Approval taken back: the issue is a draft again and will not go out.", "approval"


def _set_correction(ctx: Context, slug: str, number: int, form: FormData, by: str
                    ) -> tuple[str, str]:
    bulletins.set_correction(ctx, slug, number, _text(form, "correction"), by=by)
    return "Correction note saved; the issue's page shows it. Nothing is sent again.", "sent"


ACTIONS: dict[str, Change] = {
    "intro": _set_intro, "move": _move, "move-to": _move_to, "remove": _remove,
    "put-back": _put_back, "note": _set_note, "add": _add, "spotlight": _set_spotlight,
    "test": _send_test, "approve": _approve, "reopen": _reopen, "correction": _set_correction,
}


@librarian_only
async def preview_page(request: Request, session: Session) -> Response:
    slug, number = _ref(request)
    ctx = ctx_of(request)
    bulletin = ctx.bulletin(slug)
    shown = await run_in_threadpool(bulletins.preview, ctx, slug, number)
    response = page_with_flash(request, "bulletin_preview.html", session, bulletin=bulletin,
                               number=number, preview=shown,
                               may_edit=_may_edit_issue(bulletin, session))
    response.headers["content-security-policy"] = PREVIEW_CSP
    return response


# --- anyone: the archive ---------------------------------------------------------------------

async def archive_page(request: Request) -> Response:
    session = await current_librarian(request)
    bulletin, sent = await run_in_threadpool(
        lambda: bulletins.archive(ctx_of(request), str(request.path_params["slug"]),
                                  librarian=session is not None))
    return page_with_flash(request, "bulletin_archive.html", session, bulletin=bulletin,
                           issues=sent)


def _issue_values(ctx: Context, slug: str, number: int, librarian: bool
                  ) -> tuple[BulletinDef, Issue, tuple[IssueSection, ...]]:
    bulletin, found = bulletins.archived(ctx, slug, number, librarian=librarian)
    return bulletin, found, bulletins.sections(ctx, bulletin, found)


async def issue_page(request: Request) -> Response:
    session = await current_librarian(request)
    slug, number = _ref(request)
    ctx = ctx_of(request)
    bulletin, found, sections = await run_in_threadpool(_issue_values, ctx, slug, number,
                                                        session is not None)
    return page_with_flash(request, "bulletin_issue.html", session, bulletin=bulletin,
                           issue=public_view(found), sections=sections,
                           library=ctx.settings.library.name,
                           may_edit=session is not None and _may_edit_issue(bulletin, session))


def public_view(found: Issue) -> Issue:
    """The issue without what only librarians may see: who approved it, whether it was
    held, and the entries an editor removed (the template never asks for them; this makes
    sure it cannot)."""
    return Issue(id=found.id, bulletin=found.bulletin, number=found.number,
                 status=found.status, covers_from=found.covers_from, due_at=found.due_at,
                 created_at=found.created_at, intro=found.intro, spotlight=found.spotlight,
                 sent_at=found.sent_at, corrected_at=found.corrected_at,
                 correction=found.correction, entries=found.shown)


async def feed(request: Request) -> Response:
    body = await run_in_threadpool(bulletins.atom, ctx_of(request),
                                   str(request.path_params["slug"]))
    return Response(body, media_type=ATOM)


# --- subscribers: stop bulletins (RFC 8058) --------------------------------------------------
# A GET never changes anything (mail gateways fetch every link); the POST needs nothing but
# the token, and neither reads or sets a cookie.

async def stop_confirm(request: Request) -> Response:
    token = request.path_params["token"]
    subscriber = (await run_in_threadpool(people.subscriber_for_token, ctx_of(request), token)
                  if TOKEN.fullmatch(token) else None)
    if subscriber is None:
        return render(request, "bulletin_stop_unknown.html", status_code=404)
    return render(request, "bulletin_stop.html", token=token,
                  address=mask_address(subscriber.email), digests=_digests_go_on(subscriber))


async def stop_now(request: Request) -> Response:
    token = request.path_params["token"]
    found = (await run_in_threadpool(bulletins.stop_bulletins, ctx_of(request), token)
             if TOKEN.fullmatch(token) else None)
    if found is None:
        return render(request, "bulletin_stop_unknown.html", status_code=404)
    return render(request, "bulletin_stopped.html", digests=_digests_go_on(found))


def _digests_go_on(found: Subscriber) -> bool:
    """Do digests on topics go to them without the bulletins? If not, stopping the bulletins
    unsubscribes them (``subscribing.settled``)."""
    return found.active and bool(found.subscriptions)

