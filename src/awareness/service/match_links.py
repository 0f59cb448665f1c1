"""Librarians curate the driver links of a match: confirm or remove each suggestion, or add
a link to any record found by searching (issue 14). A removed link stays removed for the
item: re-matching and drafting never suggest it again (``storage.matches``). Each change is
kept with who made it and when, and shows in the match's history."""

from __future__ import annotations

from awareness.drivers.views import DriverFilter, DriverView
from awareness.errors import AwarenessError, NotFound
from awareness.review import MatchLink
from awareness.service.context import Context
from awareness.service.driver_views import list_drivers
from awareness.storage import drivers, match_links, matches
from awareness.storage.db import reading, writing

SEARCH_LIMIT = 20


def links_of(ctx: Context, match_id: int) -> list[MatchLink]:
    """The match's links, removed ones too (librarians only)."""
    with reading(ctx.engine) as conn:
        return match_links.links_of(conn, match_id)


def change_link(ctx: Context, match_id: int, slug: str, action: str, *, by: str) -> MatchLink:
    """``confirm``, ``remove`` or ``add`` the match's link to the record ``slug``."""
    state = {"confirm": "confirmed", "remove": "removed", "add": "added"}.get(action)
    if state is None:
        raise AwarenessError(f"unknown link change {action!r}: use confirm, remove or add")
    with writing(ctx.engine) as conn:
        if matches.match_status(conn, match_id) is None:
            raise NotFound(f"no match {match_id}")
        record = drivers.driver_by_slug(conn, slug)
        if record is None or record.status == "deleted":
            raise NotFound(f"no driver record {slug!r}")
        if state == "added":
            match_links.add(conn, match_id, record.id, by=by, now=ctx.now())
        elif not match_links.set_state(conn, match_id, record.id, state, by=by, now=ctx.now()):
            raise NotFound(f"match {match_id} has no link to {slug!r}; add it instead")
        return next(link for link in match_links.links_of(conn, match_id) if link.slug == slug)


def find_records(ctx: Context, text: str) -> list[DriverView]:
    """Records (drafts too) whose title, summary or tags hold ``text``, for adding a link."""
    if not text.strip():
        return []
    return list_drivers(ctx, DriverFilter(search=text.strip()))[:SEARCH_LIMIT]
