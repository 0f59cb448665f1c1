"""Completing and correcting a driver record by hand: a librarian fills in "what this means
for libraries" on a draft (or fixes any record), and publishes the draft.

Every edit goes through the same steps as an import: the derived columns (member, parsed
dates) follow the fields, personal data stays out of non-contact fields, and the edit history
gets one row with each field's old and new value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection

# ``changes`` is also edit_driver's keyword argument, so the helper goes by another name.
from awareness.drivers.records import changes as record_changes
from awareness.drivers.records import redact_personal_data, union_tags
from awareness.drivers.views import StoredDriver
from awareness.errors import AwarenessError, NotFound
from awareness.links import is_safe_link
from awareness.model import DriverRecord
from awareness.service.context import Context
from awareness.storage import drivers as store
from awareness.storage.db import writing

# The fields a librarian completes by hand; the title and slug stay as imported or drafted
# because digests and links elsewhere name the record by them.
EDITABLE_FIELDS = ("impact", "summary", "source", "link", "publication_format",
                   "date_of_publication", "key_features", "primary_audience", "due_for_review",
                   "member_responsible", "tags")
# Fields the record also carries as attributes (digests and the linker read those).
_LIFTED = ("impact", "summary", "source", "link")


@dataclass(frozen=True)
class EditResult:
    """What an edit did: the fields it changed, those it removed personal data from, and
    whether it published a draft."""

    slug: str
    changed: tuple[str, ...]
    redacted: tuple[str, ...]
    activated: bool


def check_changes(changes_by_field: dict[str, str]) -> dict[str, str]:
    """The changes with values tidied (line endings, outer blanks); an unknown field or a
    link that is not http(s) raises ``AwarenessError``."""
    unknown = sorted(set(changes_by_field) - set(EDITABLE_FIELDS))
    if unknown:
        raise AwarenessError(f"cannot edit {', '.join(unknown)}: editable fields are "
                             f"{', '.join(EDITABLE_FIELDS)}")
    tidy = {name: tidy_text(value) for name, value in changes_by_field.items()}
    link = tidy.get("link", "")
    if link and not is_safe_link(link):
        raise AwarenessError("the link must be an http:// or https:// address with no spaces")
    return tidy


def tidy_text(value: str) -> str:
    """Text as stored: ``\\n`` line endings, no blanks around it (a form sends ``\\r\\n``)."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def edited_record(record: DriverRecord, tidy: dict[str, str]) -> DriverRecord:
    """``record`` with the (already checked) changes applied; an empty value clears a field."""
    fields = dict(record.fields)
    lifted = {}
    for name, value in tidy.items():
        if name == "tags":
            continue
        # A case study's summary is its story (see drivers.importer).
        key = "story" if name == "summary" and record.kind == "case_study" else name
        current = getattr(record, name) if name in _LIFTED else fields.get(key, "")
        if value == tidy_text(current):
            continue  # a form sends every field back; unchanged text is no edit
        if value:
            fields[key] = value
        else:
            fields.pop(key, None)
        if name in _LIFTED:
            lifted[name] = value
    tags = record.tags
    if "tags" in tidy:
        tags = union_tags(tidy["tags"].replace("\n", ",").split(","))
    return replace(record, tags=tags, fields=fields,
                   impact=lifted.get("impact", record.impact),
                   summary=lifted.get("summary", record.summary),
                   source=lifted.get("source", record.source),
                   link=lifted.get("link", record.link))


def edit_driver(ctx: Context, slug: str, *, changes: dict[str, str], activate: bool,
                changed_by: str) -> EditResult:
    """Apply ``changes`` ({field: new text}) to the record, and publish it (status "active")
    when ``activate``; write one history row naming ``changed_by`` when anything changed.

    Publishing needs "what this means for libraries": a draft without it stays a draft.
    """
    tidy = check_changes(changes)
    with writing(ctx.engine) as conn:
        driver = store.driver_by_slug(conn, slug)
        if driver is None:
            raise NotFound(f"no driver record {slug!r}")
        new, redacted = redact_personal_data(edited_record(driver.record, tidy))
        diff = record_changes(driver.record, new)
        if activate and driver.status != "active":
            if not new.impact:
                raise AwarenessError(f"cannot publish {slug}: fill in 'What this means for "
                                     "libraries' (impact) first")
            diff["status"] = [driver.status, "active"]
        if diff:
            _save(conn, driver, new, diff, changed_by=changed_by, now=ctx.now())
    changed = tuple(key.removeprefix("fields.") for key in diff if key != "status")
    return EditResult(slug, changed, redacted, "status" in diff)


def _save(conn: Connection, driver: StoredDriver, new: DriverRecord,
          diff: dict[str, list[object]], *, changed_by: str, now: datetime) -> None:
    status = "active" if "status" in diff else driver.status
    store.update_driver(conn, driver.id, new, status=status, now=now)
    store.add_version(conn, driver.id, now=now, changed_by=changed_by, action="edited",
                      changes=diff)
