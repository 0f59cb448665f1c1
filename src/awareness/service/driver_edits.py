"""Completing and correcting a driver record by hand: a librarian fills in "what this means
for libraries" on a draft (or fixes any record), and publishes the draft.

Every edit goes through the same steps as an import: the derived columns (member, parsed
dates) follow the fields, personal data stays out of non-contact fields, and the edit history
gets one row with each field's old and new value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import Connection

from awareness.dates import long_date
from awareness.drivers.dates import a_year_after, parse_free_date
from awareness.drivers.members import MEMBERS_FILE, Member, member_named
from awareness.drivers.records import can_publish, redact_personal_data, union_tags

# ``changes`` is also edit_driver's keyword argument, so the helper goes by another name.
from awareness.drivers.records import changes as record_changes
from awareness.drivers.views import StoredDriver, status_before_deletion
from awareness.errors import (
    AlreadyDeleted,
    AwarenessError,
    ConfigError,
    EditConflict,
    NotFound,
)
from awareness.links import is_safe_link
from awareness.model import DriverRecord
from awareness.service.context import Context
from awareness.service.stewardship import load_members
from awareness.storage import drivers as store
from awareness.storage.db import writing

# Every field of a record a librarian can edit, by kind, in the form's order (issue 14: the
# form lacked the title and most fields). The slug stays as imported or drafted, because
# digests and links elsewhere name the record by it.
DRIVER_FORM = ("title", "impact", "summary", "key_features", "source", "link",
               "publication_format", "date_of_publication", "primary_audience",
               "title_of_driver", "date_last_updated", "due_for_review", "member_responsible",
               "notes", "tags")
CASE_STUDY_FORM = ("title", "impact", "summary", "project_team", "resources_required",
                   "timeline", "alignment", "lessons_learned", "sustainability", "contact",
                   "source", "link", "date_completed", "due_for_review", "member_responsible",
                   "notes", "tags")
EDITABLE_FIELDS = tuple(dict.fromkeys((*DRIVER_FORM, *CASE_STUDY_FORM)))
# Fields written as several lines (a textarea on the form).
LONG_FIELDS = frozenset({"impact", "summary", "key_features", "project_team",
                         "resources_required", "alignment", "lessons_learned", "sustainability",
                         "contact", "notes"})
# Fields that must name a date when filled in ("February 2018", "31/03/2027").
DATE_FIELDS = ("date_of_publication", "date_last_updated", "due_for_review", "date_completed")
# Fields the record also carries as attributes (digests and the linker read those).
_LIFTED = ("title", "impact", "summary", "source", "link")


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
    if "title" in tidy and not tidy["title"]:
        raise AwarenessError("the title cannot be empty: every record needs one")
    return tidy


def form_fields(kind: str) -> tuple[str, ...]:
    """The fields a record of ``kind`` has, in the edit form's order."""
    return CASE_STUDY_FORM if kind == "case_study" else DRIVER_FORM


def check_kind(record: DriverRecord, tidy: dict[str, str]) -> None:
    """Refuse a field the record's kind does not have (a driver's project team), naming the
    fields it has: a case study's field on a driver would be stored and never shown."""
    foreign = [name for name in tidy if name not in form_fields(record.kind)]
    if foreign:
        kind = "case study" if record.kind == "case_study" else "driver"
        raise AwarenessError(f"a {kind} has no {', '.join(foreign)}: a {kind}'s fields are "
                             f"{', '.join(form_fields(record.kind))}")


def check_member(record: DriverRecord, tidy: dict[str, str],
                 members: Sequence[Member], *, where: str = MEMBERS_FILE) -> dict[str, str]:
    """The changes with "Group member responsible" written as members.toml writes the
    member's initials ("vt" → "VT"); initials it does not list are refused. A value left as
    it was is not checked (an imported record may name someone who left)."""
    value = tidy.get("member_responsible", "")
    if not value or value == tidy_text(record.fields.get("member_responsible", "")):
        return tidy
    return {**tidy, "member_responsible": member_named(members, value, where=where)}


def members_to_check(ctx: Context, tidy: dict[str, str]) -> list[Member]:
    """The members a changed "Group member responsible" is checked against (none read when
    it is not among the changes); a members.toml with problems refuses the change."""
    if not tidy.get("member_responsible"):
        return []
    try:
        return load_members(ctx)
    except ConfigError as exc:
        raise AwarenessError(f"Group member responsible cannot be checked: {members_file(ctx)} "
                             "has problems (`awareness check` lists them)") from exc


def members_file(ctx: Context) -> str:
    """Where the steering-group members are listed, for messages."""
    return str(ctx.subscriptions_dir / MEMBERS_FILE)


def check_dates(record: DriverRecord, tidy: dict[str, str]) -> None:
    """Refuse a date field changed to text that names no date ("not a date", 31/02/2027).
    A value left as imported is not checked: old records hold "TBC" and such."""
    for name in DATE_FIELDS:
        value = tidy.get(name, "")
        if value and value != tidy_text(record.fields.get(name, "")) \
                and parse_free_date(value) is None:
            raise AwarenessError(
                f"{field_label(name)}: “{value[:60]}” is not a date. Write a month and year "
                "such as “February 2018”, or a whole date such as “31/03/2027”")


def field_label(name: str) -> str:
    """A field's name as a sentence starts it: ``due_for_review`` → ``Due for review``."""
    return name.replace("_", " ").capitalize()


def tidy_text(value: str) -> str:
    """Text as stored: ``\\n`` line endings, no blanks around it (a form sends ``\\r\\n``)."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


class RecordText(Protocol):
    """What the edit form shows of a record: a stored ``DriverRecord`` or a page's view."""

    @property
    def title(self) -> str: ...
    @property
    def impact(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def link(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def fields(self) -> Mapping[str, str]: ...


def form_text(record: RecordText, name: str) -> str:
    """A field's text as the edit form shows it: tags comma-separated, the record's own
    title, summary… (a case study's summary is its story), else the page's field."""
    if name == "tags":
        return ", ".join(record.tags)
    if name in _LIFTED:
        return str(getattr(record, name))
    return record.fields.get(name, "")


def fingerprint(text: str) -> str:
    """A short digest of a field's tidied text: the edit form carries one per field, so that
    saving can tell which fields the librarian changed from what the form showed."""
    return hashlib.sha256(tidy_text(text).encode()).hexdigest()[:16]


def loaded_fingerprints(record: RecordText) -> dict[str, str]:
    """Every editable field's fingerprint as a form opened now shows it."""
    return {name: fingerprint(form_text(record, name)) for name in EDITABLE_FIELDS}


def unseen_changes_kept(current: DriverRecord, tidy: dict[str, str],
                        loaded: Mapping[str, str]) -> dict[str, str]:
    """The changes a form really makes, given the fingerprints of what it showed: a field
    sent back as the form showed it is no change (another librarian's newer text, or an
    import's, stays); a field changed both here and by someone else since the form opened
    raises ``EditConflict``. A field without a fingerprint counts as changed."""
    kept: dict[str, str] = {}
    clashes = []
    for name, value in tidy.items():
        shown = loaded.get(name)
        if shown is not None and fingerprint(value) == shown:
            continue
        now_text = tidy_text(form_text(current, name))
        if value == now_text:
            continue
        if shown is not None and fingerprint(now_text) != shown:
            clashes.append(name)
        kept[name] = value
    if clashes:
        raise EditConflict(f"{', '.join(field_label(n) for n in clashes)} changed since the "
                           "form was opened", fields=tuple(clashes))
    return kept


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
        if name == "title":
            pass  # the record's own; fields keep the page's "title of driver"
        elif value:
            fields[key] = value
        else:
            fields.pop(key, None)
        if name in _LIFTED:
            lifted[name] = value
    tags = record.tags
    if "tags" in tidy:
        tags = union_tags(tidy["tags"].replace("\n", ",").split(","))
    return replace(record, tags=tags, fields=fields,
                   title=lifted.get("title", record.title),
                   impact=lifted.get("impact", record.impact),
                   summary=lifted.get("summary", record.summary),
                   source=lifted.get("source", record.source),
                   link=lifted.get("link", record.link))


def edit_driver(ctx: Context, slug: str, *, changes: dict[str, str], activate: bool,
                changed_by: str, loaded: Mapping[str, str] | None = None) -> EditResult:
    """Apply ``changes`` ({field: new text}) to the record, and publish it (status "active")
    when ``activate``; write one history row naming ``changed_by`` when anything changed.

    ``loaded`` are the edit form's fingerprints of the text it showed (``loaded_fingerprints``):
    with them, only the fields the librarian changed are saved, and a field someone else
    saved meanwhile raises ``EditConflict`` instead of being overwritten unseen.
    Publishing needs "what this means for libraries": a draft without it stays a draft.
    A field the record's kind lacks is refused, and so is a member members.toml does not
    list (``check_kind``, ``check_member``).
    """
    tidy = check_changes(changes)
    members = members_to_check(ctx, tidy)
    with writing(ctx.engine) as conn:
        driver = store.driver_by_slug(conn, slug)
        if driver is None or driver.status == "deleted":
            raise _missing(slug, driver is not None)
        check_kind(driver.record, tidy)
        if loaded is not None:
            tidy = unseen_changes_kept(driver.record, tidy, loaded)
        check_dates(driver.record, tidy)
        tidy = check_member(driver.record, tidy, members, where=members_file(ctx))
        new, redacted = redact_personal_data(edited_record(driver.record, tidy))
        diff = record_changes(driver.record, new)
        if activate and driver.status != "active":
            if not can_publish(new):
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


@dataclass(frozen=True)
class Reviewed:
    """A record marked reviewed: dated ``reviewed_on``, next due on ``next_review``."""

    slug: str
    reviewed_on: date
    next_review: date
    next_review_text: str


def next_review_date(text: str, today: date) -> tuple[str, date]:
    """The next review date a member typed (or, when empty, a year after ``today``), as text
    and as a date; text naming no date, or not a date after today, raises AwarenessError."""
    text = tidy_text(text) or long_date(a_year_after(today))
    due = parse_free_date(text)
    if due is None:
        raise AwarenessError(f"Next review: “{text[:60]}” is not a date. Write a month and "
                             "year such as “February 2028”, or a whole date such as "
                             "“31/03/2028”")
    if due <= today:
        raise AwarenessError(f"Next review: {long_date(due)} is not after today; a record "
                             "marked reviewed needs a review date still to come")
    return text, due


def mark_reviewed(ctx: Context, slug: str, *, next_review: str = "",
                  changed_by: str) -> Reviewed:
    """A member checked the record: "Date last updated" becomes today and "Due for review"
    ``next_review`` (a year on when empty), which takes it off the needs-attention list
    (review date to come; items linked before its "reviewed" history entry no longer count).
    The history gets that entry, naming ``changed_by``, even when neither date text
    changed."""
    now = ctx.now()
    today = now.astimezone(ctx.settings.timezone).date()
    text, due = next_review_date(next_review, today)
    with writing(ctx.engine) as conn:
        driver = store.driver_by_slug(conn, slug)
        if driver is None or driver.status == "deleted":
            raise _missing(slug, driver is not None)
        fields = {**driver.record.fields, "date_last_updated": long_date(today),
                  "due_for_review": text}
        new = replace(driver.record, fields=fields)
        store.update_driver(conn, driver.id, new, status=driver.status, now=now)
        store.add_version(conn, driver.id, now=now, changed_by=changed_by, action="reviewed",
                          changes=record_changes(driver.record, new))
    return Reviewed(slug, today, due, text)


def delete_driver(ctx: Context, slug: str, *, changed_by: str) -> str:
    """Delete a record: it leaves every list, the linker and digests, and its page is not
    found by anyone but librarians; the row and its history stay, with who deleted it.
    Returns its title. A record deleted already raises ``AlreadyDeleted``."""
    with writing(ctx.engine) as conn:
        driver = store.driver_by_slug(conn, slug)
        if driver is None:
            raise NotFound(f"no driver record {slug!r}")
        if driver.status == "deleted":
            raise AlreadyDeleted(slug)
        now = ctx.now()
        store.set_status(conn, driver.id, "deleted")
        store.add_version(conn, driver.id, now=now, changed_by=changed_by, action="deleted",
                          changes={"status": [driver.status, "deleted"]})
    return driver.record.title


@dataclass(frozen=True)
class Restored:
    """A deleted record brought back: the status it has again, and how many items are
    linked to it again."""

    slug: str
    title: str
    status: str
    linked: int


def _missing(slug: str, deleted: bool) -> NotFound:
    """What an edit of ``slug`` is refused with when there is no record to edit: a deleted
    one says so, and how to bring it back ("no driver record" read as if it never was)."""
    if deleted:
        return NotFound(f"{slug} is deleted; `awareness drivers restore {slug}` brings it "
                        "back")
    return NotFound(f"no driver record {slug!r}")


def restore_driver(ctx: Context, slug: str, *, changed_by: str) -> Restored:
    """Undo a deletion: the record gets back the status it had before (active or draft, as
    its "deleted" history entry says) and so its place in every list, the linker and
    digests, with its links to items as they were (deleting removed none); the history gets
    a "restored" entry naming ``changed_by``. A record not deleted raises AwarenessError."""
    with writing(ctx.engine) as conn:
        driver = store.driver_by_slug(conn, slug)
        if driver is None:
            raise NotFound(f"no driver record {slug!r}")
        if driver.status != "deleted":
            raise AwarenessError(f"{slug} is not deleted: there is nothing to restore")
        status = status_before_deletion(store.driver_history(conn, driver.id))
        now = ctx.now()
        store.set_status(conn, driver.id, status)
        store.add_version(conn, driver.id, now=now, changed_by=changed_by, action="restored",
                          changes={"status": ["deleted", status]})
        linked = len(store.linked_items(conn, driver.id))
    return Restored(slug, driver.record.title, status, linked)
