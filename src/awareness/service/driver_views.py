"""Driver records as people see them: the filtered list, one record with its linked items and
its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from awareness.drivers.records import alternative_names, bullet_items
from awareness.errors import NotFound
from awareness.model import DriverRecord
from awareness.service.context import Context
from awareness.storage.models import (
    DriverRecordRow,
    DriverRecordVersion,
    Item,
    Match,
    MatchDriver,
)

DUE_STATUSES = ("overdue", "due-soon", "current", "no-date")
DUE_SOON = timedelta(days=60)


@dataclass(frozen=True)
class LinkedItem:
    """An item linked to a record, with the link's kind and reason."""

    title: str
    link: str | None
    topic: str
    kind: str
    reason: str
    seen_at: datetime
    match_id: int


@dataclass(frozen=True)
class HistoryEntry:
    """One change to a record."""

    changed_at: datetime
    changed_by: str
    action: str
    changes: dict[str, list[Any]]


@dataclass(frozen=True)
class DriverView:
    """A record with every field and the values derived from them."""

    slug: str
    kind: str
    status: str
    title: str
    source: str
    link: str
    impact: str
    summary: str
    tags: list[str]
    fields: dict[str, str]
    member: str
    published_on: date | None
    review_due_on: date | None
    alternative_names: list[str]
    key_features: list[str]
    linked_items: list[LinkedItem] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)

    def due_status(self, today: date) -> str:
        """``overdue``, ``due-soon`` (within 60 days), ``current`` or ``no-date``."""
        return due_status(self.review_due_on, today)

    def as_json(self) -> dict[str, object]:
        """Every field as JSON-ready values (dates as ISO text)."""
        data: dict[str, Any] = dict(self.__dict__)
        for key in ("published_on", "review_due_on"):
            data[key] = data[key].isoformat() if data[key] else None
        data["linked_items"] = [_jsonable(i.__dict__) for i in self.linked_items]
        data["history"] = [_jsonable(h.__dict__) for h in self.history]
        return data


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in values.items()}


def due_status(due: date | None, today: date) -> str:
    """Where a review date stands on ``today``."""
    if due is None:
        return "no-date"
    if due < today:
        return "overdue"
    return "due-soon" if due - today <= DUE_SOON else "current"


@dataclass(frozen=True)
class DriverFilter:
    """What the driver list is narrowed to; empty values mean "any"."""

    tag: str = ""
    source: str = ""
    member: str = ""
    due: str = ""
    search: str = ""

    def keeps(self, view: DriverView, today: date) -> bool:
        """Does ``view`` pass every filter that is set?"""
        fold = str.casefold
        return (
            (not self.tag or fold(self.tag) in {fold(t) for t in view.tags})
            and (not self.source or fold(self.source) in fold(view.source))
            and (not self.member or fold(self.member) == fold(view.member))
            and (not self.due or view.due_status(today) == self.due)
            and (not self.search or _found(self.search, view))
        )


def _found(search: str, view: DriverView) -> bool:
    text = "\n".join([view.title, view.source, view.summary, view.impact,
                      *view.alternative_names, *view.fields.values()]).casefold()
    return all(word in text for word in search.casefold().split())


def list_drivers(ctx: Context, where: DriverFilter | None = None,
                 today: date | None = None) -> list[DriverView]:
    """Records by title, narrowed by ``where`` (due status computed for ``today``)."""
    today = today or ctx.now().date()
    with ctx.sessions() as session:
        rows = session.scalars(select(DriverRecordRow).order_by(DriverRecordRow.title))
        views = [view_of(row) for row in rows]
    return [v for v in views if where is None or where.keeps(v, today)]


def get_driver(ctx: Context, slug: str) -> DriverView:
    """One record with the items linked to it (newest first) and its history (newest first)."""
    with ctx.sessions() as session:
        row = session.scalar(select(DriverRecordRow).where(DriverRecordRow.slug == slug))
        if row is None:
            raise NotFound(f"no driver record {slug!r}")
        linked = session.execute(
            select(Item.title, Item.link, Match.topic_slug, MatchDriver.kind, MatchDriver.reason,
                   Item.first_seen_at, Match.id)
            .join(Match, Match.item_id == Item.id)
            .join(MatchDriver, MatchDriver.match_id == Match.id)
            .where(MatchDriver.driver_id == row.id, Match.status != "rejected")
            .order_by(Item.first_seen_at.desc(), Match.id.desc())
        ).all()
        history = session.scalars(
            select(DriverRecordVersion).where(DriverRecordVersion.driver_id == row.id)
            .order_by(DriverRecordVersion.changed_at.desc(), DriverRecordVersion.id.desc()))
        return view_of(row, [LinkedItem(*values) for values in linked],
                       [HistoryEntry(h.changed_at, h.changed_by, h.action, dict(h.changes))
                        for h in history])


def view_of(row: DriverRecordRow, linked: list[LinkedItem] | None = None,
            history: list[HistoryEntry] | None = None) -> DriverView:
    """A stored record as a view."""
    record = record_from_row(row)
    return DriverView(row.slug, row.kind, row.status or "active", row.title, row.source,
                      row.link, row.impact, row.summary, list(row.tags or []),
                      dict(row.fields or {}), row.member or "", row.published_on,
                      row.review_due_on, list(alternative_names(record)),
                      list(bullet_items(record.fields.get("key_features", ""))),
                      linked or [], history or [])


def record_from_row(row: DriverRecordRow) -> DriverRecord:
    """A stored record as the pure value the linker and the exporter take."""
    return DriverRecord(kind=row.kind, slug=row.slug, title=row.title,  # type: ignore[arg-type]
                        source=row.source, link=row.link, impact=row.impact,
                        summary=row.summary, tags=tuple(row.tags or ()),
                        fields=dict(row.fields or {}))
