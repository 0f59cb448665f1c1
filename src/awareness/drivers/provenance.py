"""Who set each of a record's values, and an import that keeps a librarian's (pure).

A record's history (``HistoryEntry``, newest first) says who last changed each value: an
import of a page or a plain file, or a ``drivers`` source polling the MAP site ("created",
"updated"), or a librarian here ("edited" with the form or ``drivers edit``, "reviewed" with
"Mark reviewed", "restored"). A value whose latest change was a librarian's is theirs (the
status too: published or restored here): an import bringing another value keeps theirs and
says so (``KeptEdit``), because the page still shows what the librarian corrected or brought
up to date (a librarian marked a record reviewed; the next import put "Due for review:
February 2016" back). A value nobody edited here takes the page's, and ``drivers import
--overwrite-edits`` takes the page's anyway.

A kept edit is written to the history once ("edits kept", {key: [ours, the page's, who,
when]}); the value stays the librarian's, so a later import keeps it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from awareness.drivers.records import changes
from awareness.drivers.views import HistoryEntry
from awareness.model import DriverRecord

# The history's actions that are a librarian changing a value here.
LOCAL_ACTIONS = frozenset({"edited", "reviewed", "restored"})
# The history entry that notes the edits an import kept: it changes no value.
KEPT_ACTION = "edits kept"
# Values the record carries as attributes as well as in its fields.
_ATTRIBUTES = ("title", "source", "link", "impact", "summary")


@dataclass(frozen=True)
class KeptEdit:
    """A value a librarian set here that an import would change: the history's key for it
    (``impact``, ``tags``, ``fields.due_for_review``), who set it and when, their value and
    the page's."""

    key: str
    changed_by: str
    changed_at: datetime
    ours: object
    page: object

    @property
    def name(self) -> str:
        """The field's name as the import reports it: ``due_for_review``."""
        return self.key.removeprefix("fields.")

    def note(self) -> list[object]:
        """The edit as the "edits kept" history entry holds it."""
        return [self.ours, self.page, self.changed_by, self.changed_at.isoformat()]


def local_edits(history: Sequence[HistoryEntry]) -> dict[str, HistoryEntry]:
    """Each value whose latest change was a librarian's here (``LOCAL_ACTIONS``), by the
    history's key for it, with that change; ``history`` is newest first."""
    latest: dict[str, HistoryEntry] = {}
    for entry in history:
        if entry.action != KEPT_ACTION:
            for key in entry.changes:
                latest.setdefault(key, entry)
    return {key: entry for key, entry in latest.items() if entry.action in LOCAL_ACTIONS}


def keep_local_edits(stored: DriverRecord, updated: DriverRecord,
                     edits: Mapping[str, HistoryEntry], *, status: tuple[str, str]
                     ) -> tuple[DriverRecord, str, tuple[KeptEdit, ...]]:
    """``updated`` (``stored`` with an import's values) and its status (``status``: the
    stored one, the import's) with every value of ``edits`` that the import would change
    put back as stored, and those values. A status published or restored here is kept too."""
    diff = changes(stored, updated)
    if status[0] != status[1]:
        diff["status"] = list(status)
    kept = tuple(KeptEdit(key, edits[key].changed_by, edits[key].changed_at, *diff[key])
                 for key in diff if key in edits)
    record, new_status = updated, status[1]
    for edit in kept:
        if edit.key == "status":
            new_status = status[0]
        else:
            record = _put_back(record, stored, edit.key)
    return record, new_status, _one_per_field(stored.kind, kept)


def not_yet_noted(kept: Sequence[KeptEdit],
                  history: Sequence[HistoryEntry]) -> tuple[KeptEdit, ...]:
    """The edits of ``kept`` that no "edits kept" entry since the edit notes with the same
    values, so that importing the same page again notes nothing new."""
    def noted(edit: KeptEdit) -> bool:
        for entry in history:  # newest first, back to the edit itself
            if entry.action == KEPT_ACTION and entry.changes.get(edit.key) == edit.note():
                return True
            if entry.action in LOCAL_ACTIONS and edit.key in entry.changes:
                return False
        return False
    return tuple(edit for edit in kept if not noted(edit))


def _put_back(record: DriverRecord, stored: DriverRecord, key: str) -> DriverRecord:
    if key == "tags":
        return replace(record, tags=stored.tags)
    name = key.removeprefix("fields.")
    fields = dict(record.fields)
    if name in stored.fields:
        fields[name] = stored.fields[name]
    else:
        fields.pop(name, None)
    attribute = {name: getattr(stored, name)} if key in _ATTRIBUTES else {}
    return replace(record, fields=fields, **attribute)


def _one_per_field(kind: str, kept: tuple[KeptEdit, ...]) -> tuple[KeptEdit, ...]:
    """A case study's summary is its story: one edit of it is reported once."""
    if kind == "case_study" and any(edit.key == "summary" for edit in kept):
        return tuple(edit for edit in kept if edit.key != "fields.story")
    return kept
