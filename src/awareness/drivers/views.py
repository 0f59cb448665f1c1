"""Driver records as the service keeps and shows them (core values, no I/O).

    StoredDriver   a record as stored: its row id, the pure record, status and derived columns
    LinkedItem     an item linked to a record, with the link's kind and reason
    HistoryEntry   one change in a record's edit history
    AttentionLink  a *same document* or *new edition* link made after the record's last review
    Reason         why a record needs attention, with the item to open when an item is why
    DriverView     a record as people see it, with its linked items and history
    DriverFilter   what the driver list is narrowed to

Storage returns the first four; ``view_of`` turns them into a ``DriverView``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from awareness.drivers.labels import in_page_order
from awareness.drivers.records import alternative_names, bullet_items
from awareness.links import is_safe_link
from awareness.model import DriverRecord

DUE_STATUSES = ("overdue", "due-soon", "current", "no-date")
DUE_SOON = timedelta(days=60)
# Fields a record's page leaves out of its list: the heading shows the title, and the page's
# own "Title of driver" is kept only as another name for it.
_UNLISTED = frozenset({"title", "title_of_driver"})
# What a record's page shows above its list of fields, top down: its kind, its heading, a
# draft's or deleted record's box, its tags. A history entry names these first.
_ABOVE_FIELDS = ("kind", "title", "status", "tags")


@dataclass(frozen=True)
class StoredDriver:
    """A stored record: the pure value plus what only the database keeps (its id, whether it
    is a draft) and the columns derived from its fields when it was last written."""

    id: int
    record: DriverRecord
    status: str
    member: str
    published_on: date | None
    review_due_on: date | None
    gone_at: datetime | None = None  # its page on the MAP site answers 404/410 since then


@dataclass(frozen=True)
class LinkedItem:
    """An item linked to a record, with the link's kind and reason (the matcher's working,
    for librarians), the status of the match that linked it, and its publisher."""

    title: str
    link: str | None
    topic: str
    kind: str
    reason: str
    seen_at: datetime
    match_id: int
    status: str
    publisher: str
    published_at: datetime | None

    @property
    def dated(self) -> datetime:
        """When it was published, or (undated by its publisher) when it was first seen."""
        return self.published_at or self.seen_at


@dataclass(frozen=True)
class HistoryEntry:
    """One change to a record."""

    changed_at: datetime
    changed_by: str
    action: str
    changes: dict[str, list[Any]]

    def changes_in_page_order(self, kind: str) -> list[tuple[str, list[Any]]]:
        """The changes as (field name, [old, new]) in the order the record's page shows
        them: what is above its list of fields (kind, title, status, tags), then the fields
        as ``page_order`` lists them. (An entry is stored in the order ``records.changes``
        compares a record: its own attributes, then its other fields by name.)"""
        names = {key: key.removeprefix("fields.") for key in self.changes}
        fields = page_order(kind, {_page_name(kind, n) for n in names.values()}
                            - set(_ABOVE_FIELDS))
        rank = {name: index for index, name in enumerate((*_ABOVE_FIELDS, *fields))}
        ordered = sorted(names, key=lambda key: (rank[_page_name(kind, names[key])], key))
        return [(names[key], self.changes[key]) for key in ordered]


@dataclass(frozen=True)
class AttentionLink:
    """An item linked to a record as the same document or a new edition of it after the
    record was last marked reviewed: the document may have changed under the record."""

    driver_id: int
    kind: str
    item_title: str
    item_link: str | None = None

    def as_reason(self) -> Reason:
        """The link as a reason to look at the record ("new edition: <item title>"), with the
        item's link only when it is safe to make one of (a feed's link is hostile)."""
        link = self.item_link if self.item_link and is_safe_link(self.item_link) else ""
        return Reason(self.kind.replace("_", " "), self.item_title, link)


@dataclass(frozen=True)
class Reason:
    """Why a record needs attention: ``text`` ("review was due on 1 January 2026", "new
    edition"), and when an item is why, its ``title`` (after "``text``: ") and ``link``
    ("" when the item has none that may become a link). ``str()`` is the whole line."""

    text: str
    title: str = ""
    link: str = ""

    def __str__(self) -> str:
        return f"{self.text}: {self.title}" if self.title else self.text

    def as_json(self) -> dict[str, str | None]:
        """The reason as a JSON object: its line, and the item's link or null."""
        return {"reason": str(self), "link": self.link or None}


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
    # Since when its own page on the MAP site answers 404 or 410 (kept, never deleted).
    gone_from_site_at: datetime | None = None

    def due_status(self, today: date) -> str:
        """``overdue``, ``due-soon`` (within 60 days), ``current`` or ``no-date``."""
        return due_status(self.review_due_on, today)

    def page_fields(self) -> list[tuple[str, str]]:
        """The fields a record's page lists, as (canonical name, text): a driver's "what
        this means for libraries" first — what staff following a digest's link come for —
        then the rest in the order a MAP-toolkit page gives them, fields no page has after
        them by name; empty ones left out. The link is the record's address, and a case
        study's summary is its story."""
        values = {**self.fields, "impact": self.impact, "source": self.source,
                  "link": self.link, _page_name(self.kind, "summary"): self.summary}
        shown = [name for name, text in values.items() if text and name not in _UNLISTED]
        return [(name, values[name]) for name in page_order(self.kind, shown)]

    def restores_to(self) -> str:
        """The status restoring this deleted record gives it back (``status_before_deletion``)."""
        return status_before_deletion(self.history)

    def as_json(self) -> dict[str, object]:
        """Every field as JSON-ready values (dates as ISO text)."""
        data: dict[str, Any] = dict(self.__dict__)
        for key in ("published_on", "review_due_on", "gone_from_site_at"):
            data[key] = data[key].isoformat() if data[key] else None
        data["linked_items"] = [_jsonable(i.__dict__) for i in self.linked_items]
        data["history"] = [_jsonable(h.__dict__) for h in self.history]
        return data


def page_order(kind: str, names: Iterable[str]) -> list[str]:
    """Field ``names`` in the order a record's page lists them: a driver's "what this means
    for libraries" (``impact``) first — what staff following a digest's link come for — then
    the order of a MAP-toolkit page (``in_page_order``)."""
    ordered = in_page_order(kind, names)
    if kind == "driver" and "impact" in ordered:
        ordered.remove("impact")
        ordered.insert(0, "impact")
    return ordered


def _page_name(kind: str, name: str) -> str:
    """The field a record's page shows ``name`` as: a case study's summary is its story."""
    return "story" if kind == "case_study" and name == "summary" else name


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in values.items()}


def view_of(stored: StoredDriver, linked: list[LinkedItem] | None = None,
            history: list[HistoryEntry] | None = None) -> DriverView:
    """A stored record as people see it."""
    record = stored.record
    return DriverView(record.slug, record.kind, stored.status, record.title, record.source,
                      record.link, record.impact, record.summary, list(record.tags),
                      dict(record.fields), stored.member, stored.published_on,
                      stored.review_due_on, list(alternative_names(record)),
                      list(bullet_items(record.fields.get("key_features", ""))),
                      linked or [], history or [], stored.gone_at)


def status_before_deletion(history: list[HistoryEntry]) -> str:
    """The status a record had before its latest deletion, ``active`` or ``draft``, as its
    "deleted" history entry recorded it (``history`` newest first). When the history does
    not say, ``draft``: a record is never published again without a librarian seeing it."""
    deletion = next((entry for entry in history if entry.action == "deleted"), None)
    before = (deletion.changes.get("status") or [None])[0] if deletion else None
    return before if before in ("active", "draft") else "draft"


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
    deleted: bool = False  # deleted records only, instead of the others

    def keeps(self, view: DriverView, today: date) -> bool:
        """Does ``view`` pass every filter that is set?"""
        fold = str.casefold
        return (
            (view.status == "deleted") == self.deleted
            and (not self.tag or fold(self.tag) in {fold(t) for t in view.tags})
            and (not self.source or fold(self.source) in fold(view.source))
            and (not self.member or fold(self.member) == fold(view.member))
            and (not self.due or view.due_status(today) == self.due)
            and (not self.search or _found(self.search, view))
        )


def _found(search: str, view: DriverView) -> bool:
    text = "\n".join([view.title, view.source, view.summary, view.impact,
                      *view.alternative_names, *view.fields.values()]).casefold()
    return all(word in text for word in search.casefold().split())
