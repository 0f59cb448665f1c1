"""The plain JSON format for driver records, so a library can keep its records in git (pure).

One file holds one or more records::

    {"format": "awareness-driver-records", "version": 1,
     "records": [{"slug": …, "kind": "driver", "status": "active", "title": …, "source": …,
                  "link": …, "impact": …, "summary": …, "tags": […], "fields": {…}}]}

``status`` ("active" or "draft") is optional, so files written before it was exported still
load: without it, an import decides as for a page. An export carries it, because a draft
that came back published — with "what this means for libraries" still empty — was the
export's fault.

JSON rather than TOML because the standard library writes it (``tomllib`` only reads) and a
diff of pretty-printed, key-sorted JSON is readable in review. docs/driver-records.md has an
example.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from awareness.errors import ImportFormatError
from awareness.model import DriverRecord

FORMAT = "awareness-driver-records"
VERSION = 1
_TEXT_KEYS = ("source", "link", "impact", "summary")
STATUSES = ("active", "draft")


def dump_records(records: Sequence[DriverRecord],
                 statuses: Mapping[str, str] | None = None) -> str:
    """The records as one plain-format document (stable: keys sorted, two-space indent),
    each with its status from ``statuses`` (by slug) when given."""
    statuses = statuses or {}
    doc = {"format": FORMAT, "version": VERSION,
           "records": [to_plain(r, statuses.get(r.slug)) for r in records]}
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def to_plain(record: DriverRecord, status: str | None = None) -> dict[str, Any]:
    """One record as a JSON-ready dict, with its ``status`` when given."""
    plain = {"slug": record.slug, "kind": record.kind, "title": record.title,
             "source": record.source, "link": record.link, "impact": record.impact,
             "summary": record.summary, "tags": list(record.tags),
             "fields": dict(record.fields)}
    return {**plain, "status": status} if status else plain


def is_plain_document(text: str) -> bool:
    """Does ``text`` look like the plain format (a JSON object) rather than a page?"""
    return text.lstrip().startswith("{")


def load_records(text: str, *, path: str = "<text>") -> list[DriverRecord]:
    """The records of a plain-format document; ``ImportFormatError`` naming what is wrong."""
    return [record for record, _ in load_plain(text, path=path)]


def load_plain(text: str, *, path: str = "<text>") -> list[tuple[DriverRecord, str | None]]:
    """Each record of a plain-format document with the status the file gives it (None when
    it gives none); ``ImportFormatError`` naming what is wrong."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ImportFormatError(f"{path}: not a driver-records file (expected \"format\": "
                                f"\"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise ImportFormatError(f"{path}: version {doc.get('version')!r} is not supported; "
                                f"this service reads version {VERSION}")
    records = doc.get("records")
    if not isinstance(records, list):
        raise ImportFormatError(f"{path}: \"records\" must be a list")
    return [(from_plain(entry, where=f"{path}: record {i + 1}"),
             status_of(entry, where=f"{path}: record {i + 1}")) for i, entry in enumerate(records)]


def status_of(entry: dict[str, Any], *, where: str) -> str | None:
    """The status a record's JSON form gives, checked; None when it gives none."""
    status = entry.get("status")
    if status is not None and status not in STATUSES:
        raise ImportFormatError(f"{where}: \"status\" must be \"active\" or \"draft\"")
    return status


def from_plain(entry: object, *, where: str) -> DriverRecord:
    """One record from its JSON form, checking every type."""
    if not isinstance(entry, dict):
        raise ImportFormatError(f"{where}: must be an object")
    slug, title, kind = entry.get("slug"), entry.get("title"), entry.get("kind", "driver")
    if not isinstance(slug, str) or not slug.strip() or not isinstance(title, str):
        raise ImportFormatError(f"{where}: needs a \"slug\" and a \"title\" (text)")
    if kind not in ("driver", "case_study"):
        raise ImportFormatError(f"{where}: \"kind\" must be \"driver\" or \"case_study\"")
    text = {key: entry.get(key, "") for key in _TEXT_KEYS}
    tags, fields = entry.get("tags", []), entry.get("fields", {})
    if not all(isinstance(v, str) for v in text.values()):
        raise ImportFormatError(f"{where}: {', '.join(_TEXT_KEYS)} must be text")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ImportFormatError(f"{where}: \"tags\" must be a list of text")
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise ImportFormatError(f"{where}: \"fields\" must map names to text")
    return DriverRecord(kind=kind, slug=slug.strip(), title=title, tags=tuple(tags),
                        fields=dict(fields), **text)
