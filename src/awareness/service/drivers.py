"""Driver records: import them from MAP-toolkit pages, list them, show one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from awareness.drivers.importer import parse_driver_page
from awareness.errors import ImportFormatError, NotFound
from awareness.model import DriverRecord
from awareness.service.context import Context
from awareness.storage.db import transaction
from awareness.storage.models import DriverRecordRow, Item, Match, MatchDriver


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    records: list[DriverRecord] = field(default_factory=list)


def import_drivers(ctx: Context, path: Path, *, dry_run: bool = False) -> ImportReport:
    """Read a MAP-toolkit page saved as text and create or update its records (by slug)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"cannot read {path}: {exc}") from exc
    records = parse_driver_page(text)
    if not records:
        raise ImportFormatError(f"{path}: no driver records or case studies found on this page")
    report = ImportReport(records=records)
    now = ctx.now()
    with transaction(ctx.sessions) as session:
        existing = {r.slug: r for r in session.scalars(select(DriverRecordRow))}
        for record in records:
            row = existing.get(record.slug)
            values = _row_values(record)
            if row is None:
                report.created.append(record.slug)
                if not dry_run:
                    session.add(DriverRecordRow(**values, created_at=now, updated_at=now))
                continue
            merged_tags = sorted(set(row.tags or ()) | set(record.tags))
            values["tags"] = merged_tags
            if all(getattr(row, k) == v for k, v in values.items()):
                report.unchanged.append(record.slug)
                continue
            report.updated.append(record.slug)
            if not dry_run:
                for key, value in values.items():
                    setattr(row, key, value)
                row.updated_at = now
        if dry_run:
            session.rollback()
    return report


def _row_values(record: DriverRecord) -> dict[str, object]:
    return {"slug": record.slug, "kind": record.kind, "title": record.title,
            "source": record.source, "link": record.link, "impact": record.impact,
            "summary": record.summary, "tags": list(record.tags), "fields": dict(record.fields)}


@dataclass(frozen=True)
class DriverView:
    slug: str
    kind: str
    title: str
    source: str
    link: str
    impact: str
    summary: str
    tags: list[str]
    fields: dict[str, str]
    linked_items: list[tuple[str, str | None, str]]  # title, link, topic

    def as_json(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["linked_items"] = [{"title": t, "link": link, "topic": topic}
                                for t, link, topic in self.linked_items]
        return data


def list_drivers(ctx: Context) -> list[DriverView]:
    with ctx.sessions() as session:
        rows = session.scalars(select(DriverRecordRow).order_by(DriverRecordRow.title))
        return [_view(row, []) for row in rows]


def get_driver(ctx: Context, slug: str) -> DriverView:
    """One record with the items linked to it, newest first."""
    with ctx.sessions() as session:
        row = session.scalar(select(DriverRecordRow).where(DriverRecordRow.slug == slug))
        if row is None:
            raise NotFound(f"no driver record {slug!r}")
        linked = session.execute(
            select(Item.title, Item.link, Match.topic_slug)
            .join(Match, Match.item_id == Item.id)
            .join(MatchDriver, MatchDriver.match_id == Match.id)
            .where(MatchDriver.driver_id == row.id, Match.status != "rejected")
            .order_by(Item.first_seen_at.desc())
        ).all()
        return _view(row, [(t, link, topic) for t, link, topic in linked])


def _view(row: DriverRecordRow, linked: list[tuple[str, str | None, str]]) -> DriverView:
    return DriverView(row.slug, row.kind, row.title, row.source, row.link, row.impact,
                      row.summary, list(row.tags or []), dict(row.fields or {}), linked)
