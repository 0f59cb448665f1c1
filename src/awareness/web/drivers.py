"""Driver-record pages beyond the list and the record: the needs-attention page, the list's
filters, turning a matched item into a draft record from the review page, and the form that
completes (and publishes) a record."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.dates import long_date
from awareness.drivers.dates import a_year_after
from awareness.drivers.members import responsible_choices
from awareness.drivers.views import DUE_STATUSES, DriverFilter, DriverView
from awareness.errors import AlreadyDeleted, AwarenessError, EditConflict, NotFound
from awareness.roles import allows
from awareness.service import librarians
from awareness.service.context import Context
from awareness.service.drafts import draft_from_match
from awareness.service.driver_edits import (
    DATE_FIELDS,
    EDITABLE_FIELDS,
    LONG_FIELDS,
    EditResult,
    Restored,
    delete_driver,
    edit_driver,
    fingerprint,
    form_fields,
    form_text,
    loaded_fingerprints,
    mark_reviewed,
    restore_driver,
)
from awareness.service.driver_views import get_driver, listed_members, steering_members
from awareness.service.stewardship import attention_overview, attention_reasons
from awareness.web.guards import (
    checked_form,
    ctx_of,
    editor_only,
    form_route,
    librarian_only,
    security_of,
)
from awareness.web.pages import redirect, render
from awareness.web.security import Session

FILTER_LIMIT = 200


def routes() -> list[Route]:
    """The routes of this module, placed before ``/drivers/{slug}`` so they are not shadowed."""
    return [
        Route("/drivers/attention", attention_page),
        form_route("/review/{match_id:int}/draft", draft),
        Route("/drivers/{slug}/edit", edit_form),
        form_route("/drivers/{slug}/edit", edit_save),
        Route("/drivers/{slug}/delete", delete_page),
        form_route("/drivers/{slug}/delete", delete),
        form_route("/drivers/{slug}/restore", restore),
        form_route("/drivers/{slug}/reviewed", reviewed),
    ]


def driver_filter(request: Request, *, may_restore: bool = False) -> DriverFilter:
    """The list's filters from the query string; an unknown due status is ignored, and so is
    ``status=deleted`` from anyone who may not restore a record (editors and above)."""
    params = request.query_params
    due = params.get("due", "")
    return DriverFilter(tag=params.get("tag", "")[:FILTER_LIMIT],
                        source=params.get("source", "")[:FILTER_LIMIT],
                        member=params.get("member", "")[:20].strip().upper(),
                        due=due if due in DUE_STATUSES else "",
                        search=params.get("q", "")[:FILTER_LIMIT],
                        deleted=may_restore and params.get("status") == "deleted")


@librarian_only
async def attention_page(request: Request, session: Session) -> Response:
    """Records needing attention, optionally for one member (``?member=FG``), chosen from
    the steering group's members; then those nobody looks after, and those with no review
    date."""
    ctx = ctx_of(request)
    member = request.query_params.get("member", "")[:20].strip().upper()
    overview = await run_in_threadpool(attention_overview, ctx, member)
    return render(request, "attention.html", session=session, overview=overview,
                  member=member, members=await members_to_choose(ctx, member),
                  who_edits=await who_edits_for(request, session))


async def who_edits_for(request: Request, session: Session | None
                        ) -> tuple[list[str], list[str]] | None:
    """For a librarian who may not edit a record (a reviewer): the editors and the
    administrators by name, so that the page says whom to ask instead of leaving them at a
    "mark it reviewed" with no button; None for anyone else."""
    if session is None or allows(session.role, "editor"):
        return None
    return await run_in_threadpool(librarians.who_edits, ctx_of(request))


async def members_to_choose(ctx: Context, chosen: str) -> list[tuple[str, str]]:
    """The member filter's choices (``steering_members``), with ``chosen`` among them even
    when nobody uses those initials, so the page still shows what it was asked for."""
    members = await run_in_threadpool(steering_members, ctx)
    if chosen and chosen not in dict(members):
        members.append((chosen, ""))
    return members


async def record_page(request: Request, session: Session | None, record: DriverView, *,
                      error: str | None = None, next_review: str = "",
                      status_code: int = 200) -> Response:
    """A record's page; for librarians, why it needs attention and the "Mark reviewed" form
    (its next review date a year from today unless ``next_review`` was typed)."""
    ctx = ctx_of(request)
    attention = await run_in_threadpool(
        attention_reasons, ctx, record.slug, record.member) if session else ()
    today = ctx.now().astimezone(ctx.settings.timezone).date()
    security = security_of(request)
    flash = security.read_flash(request)  # "Changed: …" after the edit form
    response = render(request, "driver.html", status_code=status_code, session=session,
                      record=record, flash=flash, attention=attention, error=error,
                      next_review=next_review or long_date(a_year_after(today)),
                      who_edits=await who_edits_for(request, session))
    if flash:
        security.clear_flash(response)
    return response


@editor_only
async def reviewed(request: Request, session: Session) -> Response:
    """Mark the record reviewed (dated today, next review as typed); back to its page."""
    form = await checked_form(request, session)
    slug = request.path_params["slug"]
    typed = str(form.get("next_review", ""))[:FILTER_LIMIT]
    try:
        done = await run_in_threadpool(mark_reviewed, ctx_of(request), slug,
                                       next_review=typed, changed_by=str(session.name))
    except NotFound:
        raise
    except AwarenessError as exc:
        record = await run_in_threadpool(get_driver, ctx_of(request), slug)
        return await record_page(request, session, record, error=str(exc),
                                 next_review=typed, status_code=400)
    response = redirect(request, f"/drivers/{quote(slug, safe='')}")
    security_of(request).write_flash(
        response, f"Marked reviewed. Next review: {done.next_review_text}.")
    return response


@editor_only
async def draft(request: Request, session: Session) -> Response:
    """Create a draft record from the match's item (or find the one drafted from it
    before, and say so), then open it."""
    await checked_form(request, session)
    drafted = await run_in_threadpool(draft_from_match, ctx_of(request),
                                      request.path_params["match_id"],
                                      changed_by=str(session.name))
    response = redirect(request, f"/drivers/{drafted.slug}")
    if not drafted.made:
        security_of(request).write_flash(
            response, "A draft from this item already exists: this is it.")
    return response


def form_values(record: DriverView) -> dict[str, str]:
    """The edit form's starting values: the record's text for every editable field."""
    return {name: form_text(record, name) for name in EDITABLE_FIELDS}


def loaded_of(form: Any) -> dict[str, str] | None:
    """The fingerprints of what the form showed (its ``loaded`` field); None when the post
    has none or they are not readable, and then every posted field counts as changed."""
    try:
        loaded = json.loads(str(form.get("loaded", "")))
    except ValueError:
        return None
    if not isinstance(loaded, dict):
        return None
    return {str(name): str(value) for name, value in loaded.items()}


@editor_only
async def edit_form(request: Request, session: Session) -> Response:
    """The form that completes or corrects a record."""
    record = await run_in_threadpool(get_driver, ctx_of(request), request.path_params["slug"])
    if record.status == "deleted":
        raise NotFound(f"no driver record {record.slug!r}")
    return render(request, "driver_edit.html", session=session, record=record,
                  values=form_values(record), error=None, **await _form_layout(request, record))


async def _form_layout(request: Request, record: DriverView) -> dict[str, Any]:
    members = await run_in_threadpool(listed_members, ctx_of(request))
    return {"names": form_fields(record.kind),
            "long_fields": LONG_FIELDS, "date_fields": DATE_FIELDS,
            "loaded": json.dumps(loaded_fingerprints(record), sort_keys=True), "theirs": {},
            "member_choices": responsible_choices(
                members, form_text(record, "member_responsible"))}


@editor_only
async def edit_save(request: Request, session: Session) -> Response:
    """Save the form; back to the record page with what changed, or the form with the error."""
    form = await checked_form(request, session)
    slug = request.path_params["slug"]
    # A field missing from the post is left alone (only a present, empty field clears one).
    values = {name: str(form[name]) for name in EDITABLE_FIELDS if name in form}
    loaded = loaded_of(form)
    try:
        result = await run_in_threadpool(edit_driver, ctx_of(request), slug, changes=values,
                                         activate=form.get("activate") == "1",
                                         changed_by=str(session.name), loaded=loaded)
    except NotFound:
        raise
    except EditConflict as exc:
        record = await run_in_threadpool(get_driver, ctx_of(request), slug)
        return await conflict_form(request, session, record, values, loaded or {}, exc)
    except AwarenessError as exc:
        record = await run_in_threadpool(get_driver, ctx_of(request), slug)
        return render(request, "driver_edit.html", status_code=400, session=session,
                      record=record, values={**form_values(record), **values}, error=str(exc),
                      **await _form_layout(request, record))
    response = redirect(request, f"/drivers/{quote(slug, safe='')}")
    security_of(request).write_flash(response, saved_message(result))
    return response


async def conflict_form(request: Request, session: Session, record: DriverView,
                        values: dict[str, str], loaded: dict[str, str],
                        conflict: EditConflict) -> Response:
    """The form again after someone else saved the record meanwhile: their text in every
    field this librarian left alone, this librarian's in the fields they changed, and under
    each field both changed, what the other person saved. Its fingerprints are the record's
    now, so saving again keeps this librarian's text knowingly."""
    mine = {name: value for name, value in values.items()
            if loaded.get(name) != fingerprint(value)}
    theirs = {name: form_text(record, name) for name in conflict.fields}
    latest = record.history[0] if record.history else None
    who = f" ({latest.action} by {latest.changed_by})" if latest else ""
    error = (f"Someone else saved this record while you were editing it{who}. You both "
             f"changed {len(theirs)} field{'s' if len(theirs) != 1 else ''}: your text is in "
             "the form and theirs is shown under it. Save again to keep yours, or copy "
             "what you need from theirs first.")
    layout = {**await _form_layout(request, record), "theirs": theirs}
    return render(request, "driver_edit.html", status_code=409, session=session,
                  record=record, values={**form_values(record), **mine}, error=error,
                  **layout)


@editor_only
async def delete_page(request: Request, session: Session) -> Response:
    """"Delete this record?": what deleting does, and the button that does it."""
    record = await run_in_threadpool(get_driver, ctx_of(request), request.path_params["slug"])
    if record.status == "deleted":
        raise NotFound(f"no driver record {record.slug!r}")
    return render(request, "driver_delete.html", session=session, record=record)


@editor_only
async def delete(request: Request, session: Session) -> Response:
    """Delete the record (kept with its history); back to the list, saying so."""
    await checked_form(request, session)
    slug = request.path_params["slug"]
    try:
        title = await run_in_threadpool(delete_driver, ctx_of(request), slug,
                                        changed_by=str(session.name))
    except AlreadyDeleted:  # a second press, or another tab: its page offers to restore it
        response = redirect(request, f"/drivers/{quote(slug, safe='')}")
        security_of(request).write_flash(response, "This record was already deleted; "
                                         "“Restore this record” brings it back.")
        return response
    response = redirect(request, "/drivers")
    security_of(request).write_flash(response, f"Deleted: {' '.join(title.split())[:200]}")
    return response


@editor_only
async def restore(request: Request, session: Session) -> Response:
    """Bring a deleted record back as it was; to its page, saying so."""
    await checked_form(request, session)
    slug = request.path_params["slug"]
    done = await run_in_threadpool(restore_driver, ctx_of(request), slug,
                                   changed_by=str(session.name))
    response = redirect(request, f"/drivers/{quote(slug, safe='')}")
    security_of(request).write_flash(response, restored_message(done))
    return response


def restored_message(done: Restored) -> str:
    """The flash after restoring: the title, what it is again, and its links."""
    title = " ".join(done.title.split())[:200]
    back = "published again" if done.status == "active" else "back as a draft"
    items = {0: "no linked items", 1: "its linked item"}.get(
        done.linked, f"its {done.linked} linked items")
    return f"Restored: {title}. It is {back}, with {items}."


def saved_message(result: EditResult) -> str:
    """The flash after saving: what changed, whether the draft was published."""
    parts = [f"Changed: {', '.join(n.replace('_', ' ') for n in result.changed)}."
             if result.changed else "Nothing changed."]
    if result.activated:
        parts.append("The record is published.")
    if result.redacted:
        parts.append(f"Personal data removed from: {', '.join(result.redacted)}.")
    return " ".join(parts)
