"""Driver records: import them (MAP-toolkit pages as text or saved HTML, or the plain JSON
format), export them, and write every change to the edit history.

Listing and showing records live in ``service.driver_views``; stewardship (what needs a
member's attention) in ``service.stewardship``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from awareness.drivers.html import html_to_text, looks_like_html
from awareness.drivers.importer import read_driver_page
from awareness.drivers.plain import dump_records, is_plain_document, load_records
from awareness.drivers.records import changes, details, merge_records, redact_personal_data
from awareness.errors import ImportFormatError
from awareness.model import DriverRecord
from awareness.service.context import Context
from awareness.service.driver_views import (  # re-exported: callers import them from here
    DriverView,
    get_driver,
    list_drivers,
    record_from_row,
)
from awareness.storage.db import transaction
from awareness.storage.models import DriverRecordRow, DriverRecordVersion

__all__ = ["DriverView", "ImportReport", "export_drivers", "get_driver", "import_drivers",
           "import_paths", "list_drivers", "record_from_row"]


@dataclass(frozen=True)
class ImportOutcome:
    """What the import did with one record or post: created, updated, unchanged or skipped."""

    action: str
    title: str
    slug: str = ""
    reason: str = ""
    path: str = ""

    def as_json(self) -> dict[str, str]:
        """The outcome as a JSON object."""
        return dict(self.__dict__)


@dataclass
class ImportReport:
    """Every outcome of one import run, in page order."""

    outcomes: list[ImportOutcome] = field(default_factory=list)
    records: list[DriverRecord] = field(default_factory=list)

    def slugs(self, action: str) -> list[str]:
        """The slugs of the records with ``action``."""
        return [o.slug for o in self.outcomes if o.action == action]

    @property
    def created(self) -> list[str]:
        return self.slugs("created")

    @property
    def updated(self) -> list[str]:
        return self.slugs("updated")

    @property
    def unchanged(self) -> list[str]:
        return self.slugs("unchanged")


def import_drivers(ctx: Context, path: Path, *, dry_run: bool = False,
                   changed_by: str = "import") -> ImportReport:
    """Import one page or plain-format file (see ``import_paths``)."""
    return import_paths(ctx, [path], dry_run=dry_run, changed_by=changed_by)


def import_paths(ctx: Context, paths: Sequence[Path], *, dry_run: bool = False,
                 changed_by: str = "import") -> ImportReport:
    """Read every page, merge the same record across pages, then create or update by slug.

    A page's values replace the stored ones for the fields the page gives; fields it lacks are
    kept and tags are unioned, so re-importing the same pages changes nothing. Every created
    or updated record gets a row in the edit history naming ``changed_by``.
    """
    report = ImportReport()
    read: list[tuple[DriverRecord, str]] = []
    for path in paths:
        read += [(record, str(path)) for record in _read_path(path, report)]
    origin: dict[str, str] = {}
    for record, where in read:
        origin.setdefault(record.slug, where)
    records = merge_records(record for record, _ in read)
    if not records and not report.outcomes:
        names = ", ".join(str(p) for p in paths)
        raise ImportFormatError(f"{names}: no driver records or case studies found")
    report.records = records
    with transaction(ctx.sessions) as session:
        existing = {r.slug: r for r in session.scalars(select(DriverRecordRow))}
        for record in records:
            outcome = _store(session, existing.get(record.slug), record, ctx.now(), changed_by)
            report.outcomes.append(_with_path(outcome, origin[record.slug]))
        if dry_run:
            session.rollback()
    return report


def _with_path(outcome: ImportOutcome, path: str) -> ImportOutcome:
    return ImportOutcome(outcome.action, outcome.title, outcome.slug, outcome.reason, path)


def _read_path(path: Path, report: ImportReport) -> list[DriverRecord]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"cannot read {path}: {exc}") from exc
    if is_plain_document(text):
        records = load_records(text, path=str(path))
    else:
        page = read_driver_page(html_to_text(text) if looks_like_html(text) else text)
        records = list(page.records)
        report.outcomes += [ImportOutcome("skipped", post.title, reason=post.reason,
                                          path=str(path)) for post in page.skipped_posts]
    out = []
    for record in records:
        clean, touched = redact_personal_data(record)
        if touched:
            note = f"personal data removed from: {', '.join(touched)}"
            report.outcomes.append(ImportOutcome("redacted", clean.title, clean.slug, note,
                                                 str(path)))
        out.append(clean)
    return out


def _store(session: Session, row: DriverRecordRow | None, record: DriverRecord, now: datetime,
           changed_by: str) -> ImportOutcome:
    if row is None:
        create_record(session, record, now=now, changed_by=changed_by, status="active",
                      action="created")
        return ImportOutcome("created", record.title, record.slug, "new record")
    old = record_from_row(row)
    new = _update_of(old, record)
    diff = changes(old, new)
    if not diff:
        # The columns derived from fields (member, parsed dates) may predate a parser fix or
        # a schema upgrade: refresh them without counting it as an edit.
        _derive(row, new)
        return ImportOutcome("unchanged", record.title, record.slug, "same as stored")
    _apply(row, new)
    row.updated_at = now
    _history(session, row, now, changed_by, "updated", diff)
    changed = ", ".join(key.removeprefix("fields.") for key in diff)
    return ImportOutcome("updated", record.title, record.slug, f"changed: {changed}")


def create_record(session: Session, record: DriverRecord, *, now: datetime, changed_by: str,
                  status: str, action: str) -> DriverRecordRow:
    """Store a new record and its first history entry (every field, from nothing)."""
    row = DriverRecordRow(slug=record.slug, created_at=now, updated_at=now, status=status)
    _apply(row, record)
    session.add(row)
    session.flush()
    empty = DriverRecord(kind=record.kind, slug=record.slug, title="")
    _history(session, row, now, changed_by, action, changes(empty, record))
    return row


def _update_of(old: DriverRecord, page: DriverRecord) -> DriverRecord:
    fields = {**old.fields, **page.fields}
    tags = list(dict.fromkeys([*old.tags, *page.tags]))
    merged = DriverRecord(kind=page.kind, slug=old.slug, title=page.title,
                          source=page.source or old.source, link=page.link or old.link,
                          impact=page.impact or old.impact, summary=page.summary or old.summary,
                          tags=tuple(tags), fields=fields)
    return merged


def _apply(row: DriverRecordRow, record: DriverRecord) -> None:
    row.kind, row.title, row.source, row.link = record.kind, record.title, record.source, \
        record.link
    row.impact, row.summary = record.impact, record.summary
    row.tags, row.fields = list(record.tags), dict(record.fields)
    _derive(row, record)


def _derive(row: DriverRecordRow, record: DriverRecord) -> None:
    about = details(record)
    row.member, row.published_on, row.review_due_on = (about.member, about.published_on,
                                                       about.review_due_on)


def _history(session: Session, row: DriverRecordRow, now: datetime, changed_by: str,
             action: str, diff: dict[str, list[object]]) -> None:
    session.add(DriverRecordVersion(driver_id=row.id, changed_at=now, changed_by=changed_by,
                                    action=action, changes=diff))


def export_drivers(ctx: Context, target: Path) -> list[Path]:
    """Write every record in the plain format: one file per record (``<slug>.json``) when
    ``target`` is a folder, else one file holding them all. Returns the files written."""
    with ctx.sessions() as session:
        records = [record_from_row(row) for row in
                   session.scalars(select(DriverRecordRow).order_by(DriverRecordRow.slug))]
    try:
        if target.is_dir():
            written = []
            for record in records:
                path = target / f"{record.slug}.json"
                path.write_text(dump_records([record]), encoding="utf-8")
                written.append(path)
            return written
        target.write_text(dump_records(records), encoding="utf-8")
    except OSError as exc:
        raise ImportFormatError(f"cannot write {target}: {exc}") from exc
    return [target]
