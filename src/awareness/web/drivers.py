"""Driver-record pages beyond the list and the record: the needs-attention page, the list's
filters, turning a matched item into a draft record from the review page, and the form that
completes (and publishes) a record."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.drivers.views import DUE_STATUSES, DriverFilter, DriverView
from awareness.errors import AwarenessError, NotFound
from awareness.service.drafts import draft_from_match
from awareness.service.driver_edits import (
    CASE_STUDY_FORM,
    DATE_FIELDS,
    DRIVER_FORM,
    EDITABLE_FIELDS,
    LONG_FIELDS,
    EditResult,
    delete_driver,
    edit_driver,
)
from awareness.service.driver_views import get_driver
from awareness.service.stewardship import needs_attention
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
        form_route("/drivers/{slug}/delete", delete),
    ]


def driver_filter(request: Request) -> DriverFilter:
    """The list's filters from the query string; an unknown due status is ignored."""
    params = request.query_params
    due = params.get("due", "")
    return DriverFilter(tag=params.get("tag", "")[:FILTER_LIMIT],
                        source=params.get("source", "")[:FILTER_LIMIT],
                        member=params.get("member", "")[:FILTER_LIMIT],
                        due=due if due in DUE_STATUSES else "",
                        search=params.get("q", "")[:FILTER_LIMIT])


@librarian_only
async def attention_page(request: Request, session: Session) -> Response:
    """Records needing attention, optionally for one member (``?member=FG``)."""
    member = request.query_params.get("member", "")[:20]
    entries = await run_in_threadpool(needs_attention, ctx_of(request), member)
    return render(request, "attention.html", session=session, entries=entries, member=member)


@editor_only
async def draft(request: Request, session: Session) -> Response:
    """Create a draft record from the match's item, then open it."""
    await checked_form(request, session)
    slug = await run_in_threadpool(draft_from_match, ctx_of(request),
                                   request.path_params["match_id"],
                                   changed_by=str(session.name))
    return redirect(request, f"/drivers/{slug}")


def form_values(record: DriverView) -> dict[str, str]:
    """The edit form's starting values: the record's text for every editable field."""
    lifted = {"title": record.title, "impact": record.impact, "summary": record.summary,
              "source": record.source, "link": record.link, "tags": ", ".join(record.tags)}
    return {name: lifted.get(name, record.fields.get(name, "")) for name in EDITABLE_FIELDS}


@editor_only
async def edit_form(request: Request, session: Session) -> Response:
    """The form that completes or corrects a record."""
    record = await run_in_threadpool(get_driver, ctx_of(request), request.path_params["slug"])
    if record.status == "deleted":
        raise NotFound(f"no driver record {record.slug!r}")
    return render(request, "driver_edit.html", session=session, record=record,
                  values=form_values(record), error=None, **_form_layout(record))


def _form_layout(record: DriverView) -> dict[str, Any]:
    return {"names": CASE_STUDY_FORM if record.kind == "case_study" else DRIVER_FORM,
            "long_fields": LONG_FIELDS, "date_fields": DATE_FIELDS}


@editor_only
async def edit_save(request: Request, session: Session) -> Response:
    """Save the form; back to the record page with what changed, or the form with the error."""
    form = await checked_form(request, session)
    slug = request.path_params["slug"]
    # A field missing from the post is left alone (only a present, empty field clears one).
    values = {name: str(form[name]) for name in EDITABLE_FIELDS if name in form}
    try:
        result = await run_in_threadpool(edit_driver, ctx_of(request), slug, changes=values,
                                         activate=form.get("activate") == "1",
                                         changed_by=str(session.name))
    except NotFound:
        raise
    except AwarenessError as exc:
        record = await run_in_threadpool(get_driver, ctx_of(request), slug)
        return render(request, "driver_edit.html", status_code=400, session=session,
                      record=record, values={**form_values(record), **values}, error=str(exc),
                      **_form_layout(record))
    response = redirect(request, f"/drivers/{quote(slug, safe='')}")
    security_of(request).write_flash(response, saved_message(result))
    return response


@editor_only
async def delete(request: Request, session: Session) -> Response:
    """Delete the record (kept with its history); back to the list, saying so."""
    await checked_form(request, session)
    title = await run_in_threadpool(delete_driver, ctx_of(request), request.path_params["slug"],
                                    changed_by=str(session.name))
    response = redirect(request, "/drivers")
    security_of(request).write_flash(response, f"Deleted: {' '.join(title.split())[:200]}")
    return response


def saved_message(result: EditResult) -> str:
    """The flash after saving: what changed, whether the draft was published."""
    parts = [f"Changed: {', '.join(n.replace('_', ' ') for n in result.changed)}."
             if result.changed else "Nothing changed."]
    if result.activated:
        parts.append("The record is published.")
    if result.redacted:
        parts.append(f"Personal data removed from: {', '.join(result.redacted)}.")
    return " ".join(parts)
