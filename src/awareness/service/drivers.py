"""Driver records: import them (MAP-toolkit pages as text or saved HTML, or the plain JSON
format), export them, and write every change to the edit history.

Listing and showing records live in ``service.driver_views``; stewardship (what needs a
member's attention) in ``service.stewardship``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection

from awareness.dates import local_date
from awareness.drivers.html import html_to_text, looks_like_html
from awareness.drivers.importer import read_driver_page
from awareness.drivers.plain import dump_records, is_plain_document, load_plain
from awareness.drivers.provenance import (
    KEPT_ACTION,
    KeptEdit,
    keep_local_edits,
    local_edits,
    not_yet_noted,
)
from awareness.drivers.records import (
    can_publish,
    changes,
    imported_status,
    merge_records,
    redact_personal_data,
)
from awareness.drivers.views import StoredDriver
from awareness.errors import FetchError, ImportFormatError
from awareness.model import DriverRecord
from awareness.progress import UNWATCHED, Steps
from awareness.service.context import Context
from awareness.service.driver_views import get_driver, list_drivers
from awareness.sources.fetch import Validators, fetch
from awareness.storage import drivers as store
from awareness.storage.db import reading, writing

# get_driver and list_drivers are re-exported: the web app and the CLI read records here.
__all__ = ["ImportReport", "create_record", "export_drivers", "get_driver",
           "import_drivers", "import_paths", "list_drivers"]


@dataclass(frozen=True)
class ImportOutcome:
    """What the import did with one record or post: created, updated, unchanged or skipped;
    or, beside a record's outcome, a librarian's edit it kept (or overwrote)."""

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

    @property
    def kept(self) -> list[ImportOutcome]:
        """The librarians' edits the import kept, one outcome each."""
        return [o for o in self.outcomes if o.action == "kept"]


def import_drivers(ctx: Context, path: Path, *, dry_run: bool = False,
                   changed_by: str = "import") -> ImportReport:
    """Import one page or plain-format file (see ``import_paths``)."""
    return import_paths(ctx, [path], dry_run=dry_run, changed_by=changed_by)


def import_paths(ctx: Context, paths: Sequence[Path | str], *, dry_run: bool = False,
                 changed_by: str = "import", steps: Steps = UNWATCHED,
                 overwrite_edits: bool = False) -> ImportReport:
    """Read every page (a file, or an http(s) address fetched through the guarded fetcher),
    merge the same record across pages, then create or update by slug. ``steps`` hears of
    each page read.

    A page's values replace the stored ones for the fields the page gives; fields it lacks are
    kept and tags are unioned, so re-importing the same pages changes nothing. A value a
    librarian changed here since an import last set it is kept, and reported ("kept"), unless
    ``overwrite_edits`` (``drivers.provenance``). Every created or updated record gets a row
    in the edit history naming ``changed_by``, and so does every edit kept, once.
    """
    report = ImportReport()
    read: list[tuple[DriverRecord, str]] = []
    wanted: dict[str, str | None] = {}  # the status each plain file's record asks for
    steps.begin("reading pages", len(paths))
    for path in paths:
        text = _fetch_page(ctx, path) if isinstance(path, str) and _is_address(path) \
            else _read_file(Path(path))
        read += [(record, str(path)) for record in _records(text, str(path), report, wanted)]
        steps.step()
    origin: dict[str, str] = {}
    for record, where in read:
        origin.setdefault(record.slug, where)
    records = merge_records(record for record, _ in read)
    if not records and not report.outcomes:
        names = ", ".join(str(p) for p in paths)
        raise ImportFormatError(f"{names}: no driver records or case studies found")
    report.records = records
    report.outcomes += [_with_path(outcome, origin[outcome.slug]) for outcome in
                        _store(ctx, records, dry_run=dry_run, changed_by=changed_by,
                               overwrite_edits=overwrite_edits, wanted=wanted)]
    return report


def import_page_text(ctx: Context, text: str, *, origin: str,
                     changed_by: str) -> ImportReport:
    """Import the records of one page already fetched (a ``drivers`` source's archive page):
    created or updated by slug with history naming ``changed_by``, librarians' edits kept,
    as ``import_paths``."""
    report = ImportReport()
    records = merge_records(_records(text, origin, report))
    report.records = records
    report.outcomes += [_with_path(outcome, origin) for outcome in
                        _store(ctx, records, dry_run=False, changed_by=changed_by)]
    return report


def page_text(body: bytes, content_type: str | None) -> str:
    """A fetched page's text, in its declared character set (UTF-8 when none or unknown)."""
    charset = (content_type or "").partition("charset=")[2].split(";")[0].strip()
    try:
        return body.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return body.decode("utf-8", errors="replace")


def _store(ctx: Context, records: list[DriverRecord], *, dry_run: bool, changed_by: str,
           overwrite_edits: bool = False,
           wanted: Mapping[str, str | None] | None = None) -> list[ImportOutcome]:
    # A dry run only reads; a real one reads the stored records in the transaction that
    # writes them, so that a record changed meanwhile is not overwritten unseen. ``wanted``:
    # the status each record read from a plain file asks for (None: it names none).
    now, outcomes, wanted = ctx.now(), [], wanted or {}
    with (reading if dry_run else writing)(ctx.engine) as conn:
        existing = {d.record.slug: d for d in store.drivers_in_slug_order(conn)}
        for record in records:
            driver = existing.get(record.slug)
            asks = _Asks("the file says" if record.slug in wanted else "the page says",
                         wanted.get(record.slug), overwrite_edits)
            plan = _plan(ctx, conn, driver, record, asks)
            if not dry_run:
                _write(conn, driver, plan, now=now, changed_by=changed_by)
            outcomes += [_noting_deleted(outcome, driver) for outcome in plan.outcomes]
    return outcomes


def _noting_deleted(outcome: ImportOutcome, driver: StoredDriver | None) -> ImportOutcome:
    """An outcome saying that its record stays deleted: "~ updated" alone read as if the
    import had brought it back."""
    if driver is None or driver.status != "deleted" or \
            outcome.action not in ("updated", "unchanged"):
        return outcome
    return replace(outcome, reason=f"{outcome.reason}; deleted: stays hidden until restored")


def _with_path(outcome: ImportOutcome, path: str) -> ImportOutcome:
    return ImportOutcome(outcome.action, outcome.title, outcome.slug, outcome.reason, path)


def _is_address(path: Path | str) -> bool:
    return isinstance(path, str) and path.startswith(("https://", "http://"))


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFormatError(f"{path}: no such file (give a saved page, a plain JSON "
                                "file, or the page's https:// address)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"cannot read {path}: {exc}") from exc


def _fetch_page(ctx: Context, url: str) -> str:
    """A MAP-toolkit page fetched like a source: SSRF guard, size cap, deadline (issue 16:
    ``drivers import`` of an address said "File 'http://…' does not exist")."""
    try:
        result = fetch(url, validators=Validators(), policy=ctx.fetch_policy,
                       resolver=ctx.resolver)
    except FetchError as exc:
        raise ImportFormatError(f"cannot fetch {url}: {exc}") from exc
    return page_text(result.body, result.content_type)


def _records(text: str, path: str, report: ImportReport,
             wanted: dict[str, str | None] | None = None) -> list[DriverRecord]:
    """The records of one page or plain file, personal data removed; the status each plain
    file's record asks for goes into ``wanted`` (the first file's, as for its fields)."""
    if is_plain_document(text):
        plain = load_plain(text, path=str(path))
        records = [record for record, _ in plain]
        for record, status in plain:
            (wanted if wanted is not None else {}).setdefault(record.slug, status)
    else:
        page = read_driver_page(html_to_text(text) if looks_like_html(text) else text)
        records = list(page.records)
        report.outcomes += [ImportOutcome("skipped", post.title, reason=post.reason,
                                          path=str(path)) for post in page.skipped_posts]
        # Text inside a record that no field took: shown, so that nothing is lost unseen.
        report.outcomes += [ImportOutcome(
            "unplaced", bit.title, reason=f"not placed (after {bit.after.replace('_', ' ')}): "
            f"{bit.text[:160]}", path=str(path)) for bit in page.unplaced]
    out = []
    for record in records:
        clean, touched = redact_personal_data(record)
        if touched:
            note = f"personal data removed from: {', '.join(touched)}"
            report.outcomes.append(ImportOutcome("redacted", clean.title, clean.slug, note,
                                                 str(path)))
        out.append(clean)
    return out


@dataclass(frozen=True)
class _Asks:
    """What an import asks of each record beside its values: how its reasons name where the
    values come from ("the page says"), the status its file asks for (None: none), and
    whether to overwrite librarians' edits."""

    says: str
    status: str | None
    overwrite_edits: bool


@dataclass(frozen=True)
class _Plan:
    """What importing one record does: its outcomes, the record to store with its status,
    the changes for the history (none when unchanged), and the librarians' edits it keeps
    that the history does not note yet."""

    outcomes: list[ImportOutcome]
    record: DriverRecord
    status: str
    diff: dict[str, list[object]]
    to_note: tuple[KeptEdit, ...] = ()


# Why an import leaves a record a draft it would otherwise have published.
HELD_AS_DRAFT = ("a draft, not published: “What this means for libraries” is empty, and "
                 "publishing needs it")


def _plan(ctx: Context, conn: Connection, driver: StoredDriver | None, record: DriverRecord,
          asks: _Asks) -> _Plan:
    """What importing ``record`` does to the stored one."""
    if driver is None:
        wish = imported_status(None, asks.status)
        status = _publishable(wish, None, record)
        created = ImportOutcome("created", record.title, record.slug, "new record")
        return _Plan([created, *_held(record, wish, status)], record, status, {})
    new, wish = _update_of(driver.record, record), imported_status(driver.status, asks.status)
    kept: tuple[KeptEdit, ...] = ()
    changing = changes(driver.record, new) or wish != driver.status
    history = store.driver_history(conn, driver.id) if changing else []
    if history:
        kept_record, kept_status, kept = keep_local_edits(
            driver.record, new, local_edits(history), status=(driver.status, wish))
        if not asks.overwrite_edits:
            new, wish = kept_record, kept_status
    status = _publishable(wish, driver.status, new)
    diff = changes(driver.record, new) | (
        {"status": [driver.status, status]} if status != driver.status else {})
    about = [ImportOutcome("overwritten" if asks.overwrite_edits else "kept", record.title,
                           record.slug, _kept_reason(ctx, edit, asks))
             for edit in kept]
    to_note = () if asks.overwrite_edits else not_yet_noted(kept, history)
    return _Plan([_outcome(record, diff), *_held(new, wish, status), *about], new, status,
                 diff, to_note)


def _outcome(record: DriverRecord, diff: dict[str, list[object]]) -> ImportOutcome:
    if not diff:
        return ImportOutcome("unchanged", record.title, record.slug, "same as stored")
    changed = ", ".join(key.removeprefix("fields.") for key in diff)
    return ImportOutcome("updated", record.title, record.slug, f"changed: {changed}")


def _publishable(wish: str, current: str | None, record: DriverRecord) -> str:
    """``wish``, unless it publishes a record that cannot be published: then a draft."""
    if wish == "active" and current != "active" and not can_publish(record):
        return "draft"
    return wish


def _held(record: DriverRecord, wish: str, status: str) -> list[ImportOutcome]:
    """The outcome saying that a record the import would have published stays a draft."""
    if wish == "active" and status == "draft":
        return [ImportOutcome("draft", record.title, record.slug, HELD_AS_DRAFT)]
    return []


def _kept_reason(ctx: Context, edit: KeptEdit, asks: _Asks) -> str:
    """"kept alice's edit of due_for_review (7 Dec 2026); the page says “February 2016”"."""
    when = local_date(edit.changed_at, ctx.settings.timezone, short=True)
    page = _quoted(edit.page)
    if asks.overwrite_edits:
        return f"overwrote {edit.changed_by}'s edit of {edit.name} ({when}) with {page}"
    return f"kept {edit.changed_by}'s edit of {edit.name} ({when}); {asks.says} {page}"


def _quoted(value: object) -> str:
    """A value as an import's line quotes it: at most 60 characters, on one line."""
    if value is None or value == "" or value == []:
        return "nothing"
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    text = " ".join(text.split())
    return f"“{text[:60]}…”" if len(text) > 60 else f"“{text}”"


def _write(conn: Connection, driver: StoredDriver | None, plan: _Plan, *, now: datetime,
           changed_by: str) -> None:
    if driver is None:
        create_record(conn, plan.record, now=now, changed_by=changed_by, status=plan.status,
                      action="created")
        return
    if plan.diff:
        store.update_driver(conn, driver.id, plan.record, status=plan.status, now=now)
        store.add_version(conn, driver.id, now=now, changed_by=changed_by, action="updated",
                          changes=plan.diff)
    else:
        store.refresh_derived(conn, driver)
    if plan.to_note:
        store.add_version(conn, driver.id, now=now, changed_by=changed_by, action=KEPT_ACTION,
                          changes={edit.key: edit.note() for edit in plan.to_note})


def create_record(conn: Connection, record: DriverRecord, *, now: datetime, changed_by: str,
                  status: str, action: str) -> int:
    """Store a new record and its first history entry (every field, from nothing); return
    its row id. ``conn`` is in a write transaction."""
    driver_id = store.insert_driver(conn, record, status=status, now=now)
    empty = DriverRecord(kind=record.kind, slug=record.slug, title="")
    store.add_version(conn, driver_id, now=now, changed_by=changed_by, action=action,
                      changes=changes(empty, record))
    return driver_id


def _update_of(old: DriverRecord, page: DriverRecord) -> DriverRecord:
    fields = {**old.fields, **page.fields}
    tags = list(dict.fromkeys([*old.tags, *page.tags]))
    merged = DriverRecord(kind=page.kind, slug=old.slug, title=page.title,
                          source=page.source or old.source, link=page.link or old.link,
                          impact=page.impact or old.impact, summary=page.summary or old.summary,
                          tags=tuple(tags), fields=fields)
    return merged


def export_drivers(ctx: Context, target: Path) -> list[Path]:
    """Write every record but the deleted ones in the plain format, each with its status
    (active or draft): one file per record (``<slug>.json``) when ``target`` is a folder
    (made when it does not exist and its name does not end in ``.json``), else one file
    holding them all. Returns the files written."""
    with reading(ctx.engine) as conn:
        kept = [driver for driver in store.drivers_in_slug_order(conn)
                if driver.status != "deleted"]
    records = [driver.record for driver in kept]
    statuses = {driver.record.slug: driver.status for driver in kept}  # a draft stays one
    try:
        if not target.exists() and target.suffix.lower() != ".json":
            target.mkdir(parents=True)
        if target.is_dir():
            written = []
            for record in records:
                path = target / f"{record.slug}.json"
                path.write_text(dump_records([record], statuses), encoding="utf-8")
                written.append(path)
            return written
        target.write_text(dump_records(records, statuses), encoding="utf-8")
    except OSError as exc:
        raise ImportFormatError(f"cannot write {target}: {exc}") from exc
    return [target]
