"""Driver records as people see them: the filtered list, one record with its linked items and
its history. The values themselves are in ``drivers.views``."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from awareness.drivers.members import Member, member_choices
from awareness.drivers.views import DriverFilter, DriverView, view_of
from awareness.errors import ConfigError, NotFound
from awareness.service.context import Context
from awareness.service.stewardship import load_members
from awareness.storage import drivers as store
from awareness.storage.db import reading


def list_drivers(ctx: Context, where: DriverFilter | None = None,
                 today: date | None = None, *, drafts: bool = True) -> list[DriverView]:
    """Records by title, narrowed by ``where`` (due status computed for ``today``; deleted
    records only when it asks for them, else none); without ``drafts``, only published
    records (what staff and visitors may see: never a deleted one)."""
    today = today or ctx.now().date()
    where = where or DriverFilter()
    if not drafts:
        where = replace(where, deleted=False)
    with reading(ctx.engine) as conn:
        views = [view_of(driver) for driver in store.drivers_by_title(conn)
                 if drafts or driver.status != "draft"]
    return [v for v in views if where.keeps(v, today)]


def get_driver(ctx: Context, slug: str, *, librarian: bool = True) -> DriverView:
    """One record with the items linked to it (newest first) and its history (newest first).
    Not for a ``librarian`` (staff and visitors): a draft or a deleted record is NotFound like
    a record that does not exist, the items are only those a digest could carry under it
    (never a match waiting for review), and the history is left out."""
    with reading(ctx.engine) as conn:
        driver = store.driver_by_slug(conn, slug)
        # Drafts and deleted records are for librarians only (issue 14).
        if driver is None or (driver.status in ("draft", "deleted") and not librarian):
            raise NotFound(f"no driver record {slug!r}")
        linked = store.linked_items(conn, driver.id, sendable_only=not librarian)
        history = store.driver_history(conn, driver.id) if librarian else []
    return view_of(driver, linked, history)


def steering_members(ctx: Context) -> list[tuple[str, str]]:
    """The members a list of records can be narrowed to, as (initials, name) by initials:
    members.toml's, and initials that records use without a name there. A members.toml that
    cannot be read names nobody (`awareness check` says why); the records' initials stay."""
    with reading(ctx.engine) as conn:
        used = store.member_initials(conn)
    return member_choices(listed_members(ctx), used)


def listed_members(ctx: Context) -> list[Member]:
    """The members of members.toml, whom a record's "Group member responsible" may name;
    none when it cannot be read (`awareness check` says why; saving a member then says so)."""
    try:
        return load_members(ctx)
    except ConfigError:
        return []
