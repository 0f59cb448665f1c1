"""What a record means beyond its text: parsed dates, lists, merging, personal data (pure).

A ``DriverRecord`` keeps every field as the page gave it; this module derives the values the
service stores in their own columns (``details``), merges the same record read from several
pages (``merge_records``), keeps e-mail addresses and phone numbers out of every field but
the contact fields (``redact_personal_data``), says what an update changed (``changes``),
and what status an import may give a record (``imported_status``, ``can_publish``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from awareness.drivers.dates import parse_free_date
from awareness.model import DriverRecord

# The only fields where a person's address or number belongs (case studies' "Contact details").
CONTACT_FIELDS = frozenset({"contact"})
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# UK numbers as people type them: 0161 496 0000, 01632 960 001, +44 (0)20 7946 0000, 07700900123.
_PHONE = re.compile(r"(?<![\w/])(?:\+44\s?(?:\(0\)\s?)?|0)\d(?:[\s-]?\d){8,9}(?![\w/])")
EMAIL_REMOVED = "[e-mail address removed]"
PHONE_REMOVED = "[phone number removed]"
# Fields whose value is one line of the record, compared as text when merging.
_LIFTED = ("source", "link", "impact", "summary")


@dataclass(frozen=True)
class RecordDetails:
    """The values derived from a record's fields, for columns, filters and pages."""

    alternative_names: tuple[str, ...]
    key_features: tuple[str, ...]
    published_on: date | None
    last_updated_on: date | None
    review_due_on: date | None
    member: str


def details(record: DriverRecord) -> RecordDetails:
    """Parsed dates, key features as a list, alternative names and the responsible member."""
    fields = record.fields
    return RecordDetails(
        alternative_names=alternative_names(record),
        key_features=bullet_items(fields.get("key_features", "")),
        published_on=parse_free_date(fields.get("date_of_publication", "")),
        last_updated_on=parse_free_date(fields.get("date_last_updated", "")),
        review_due_on=parse_free_date(fields.get("due_for_review", "")),
        member=member_initials(fields.get("member_responsible", "")),
    )


def alternative_names(record: DriverRecord) -> tuple[str, ...]:
    """Other names of the record: its "Title of driver" when the heading differs, and any
    names given in ``alternative_names`` (one a line), without repeats."""
    names = [record.fields.get("title_of_driver", "")]
    names += record.fields.get("alternative_names", "").splitlines()
    seen = {record.title.casefold()}
    out = []
    for name in (n.strip() for n in names):
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return tuple(out)


def bullet_items(text: str) -> tuple[str, ...]:
    """A field's list items: each top-level "- " line (with its nested lines), or each
    paragraph when the field has no bullets."""
    lines = text.splitlines()
    if not any(line.startswith("- ") for line in lines):
        return tuple(p.strip() for p in re.split(r"\n\s*\n", text) if p.strip())
    items: list[str] = []
    for line in lines:
        if line.startswith("- "):
            items.append(line[2:].strip())
        elif line.strip() and items:
            items[-1] += "\n" + line.strip()
    return tuple(items)


def member_initials(text: str) -> str:
    """The member's initials as written ("jb" → "JB"); "" when the field is empty."""
    first = text.strip().split()[0] if text.strip() else ""
    return re.sub(r"[^A-Za-z]", "", first).upper()[:10]


def redact_personal_data(record: DriverRecord) -> tuple[DriverRecord, tuple[str, ...]]:
    """The record with e-mail addresses and phone numbers removed from every non-contact
    field, and the names of the fields that held any."""
    fields = dict(record.fields)
    touched = []
    for name, value in record.fields.items():
        if name in CONTACT_FIELDS:
            continue
        clean = _PHONE.sub(PHONE_REMOVED, _EMAIL.sub(EMAIL_REMOVED, value))
        if clean != value:
            fields[name] = clean
            touched.append(name)
    if not touched:
        return record, ()
    summary = fields.get("summary" if record.kind == "driver" else "story", record.summary)
    redacted = replace(record, fields=fields, summary=summary,
                       source=fields.get("source", record.source),
                       impact=fields.get("impact", record.impact))
    return redacted, tuple(touched)


def merge_records(records: Iterable[DriverRecord]) -> list[DriverRecord]:
    """One record per slug, in first-seen order: tags unioned, each field from the first page
    that gave it a value (a later page fills gaps, never overwrites)."""
    merged: dict[str, DriverRecord] = {}
    for record in records:
        first = merged.get(record.slug)
        merged[record.slug] = record if first is None else _merge_two(first, record)
    return list(merged.values())


def _merge_two(first: DriverRecord, later: DriverRecord) -> DriverRecord:
    fields = dict(first.fields)
    for name, value in later.fields.items():
        if value.strip() and not fields.get(name, "").strip():
            fields[name] = value
    return replace(first, fields=fields, tags=union_tags(first.tags, later.tags),
                   source=first.source or later.source, link=first.link or later.link,
                   impact=first.impact or later.impact, summary=first.summary or later.summary)


def union_tags(*groups: Sequence[str]) -> tuple[str, ...]:
    """Tags of every group, first spelling kept, compared ignoring case."""
    seen: set[str] = set()
    out = []
    for tag in (t.strip() for group in groups for t in group):
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
    return tuple(out)


def can_publish(record: DriverRecord) -> bool:
    """May the record be published (status ``active``)? Only with "what this means for
    libraries": it is what staff following a digest's link come to read."""
    return bool(record.impact.strip())


def imported_status(current: str | None, wanted: str | None) -> str:
    """The status an import would give a record now ``current`` (None: new), when its file
    asks for ``wanted`` (None: a page, or a file without one): a deleted record stays
    deleted; else what the file asks, else what it has, else ``active``. Whether it may be
    published is ``can_publish``'s to say."""
    if current == "deleted":
        return "deleted"
    return wanted or current or "active"


def changes(old: DriverRecord, new: DriverRecord) -> dict[str, list[object]]:
    """What an update changes, as {field: [old, new]}: lifted attributes, tags and fields."""
    out: dict[str, list[object]] = {}
    for key in ("kind", "title", *_LIFTED):
        if getattr(old, key) != getattr(new, key):
            out[key] = [getattr(old, key), getattr(new, key)]
    if list(old.tags) != list(new.tags):
        out["tags"] = [list(old.tags), list(new.tags)]
    for name in sorted(old.fields.keys() | new.fields.keys()):
        before, after = old.fields.get(name), new.fields.get(name)
        if before != after and name not in _LIFTED:
            out[f"fields.{name}"] = [before, after]
    return out
