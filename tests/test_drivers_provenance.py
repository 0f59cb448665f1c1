"""Whose each value of a driver record is, from its history, and an import that keeps a
librarian's edits (pure core; the database and command-line side is in
test_drivers_service.py and test_driver_sites.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from awareness.drivers.provenance import (
    KEPT_ACTION,
    keep_local_edits,
    local_edits,
    not_yet_noted,
)
from awareness.drivers.views import HistoryEntry
from awareness.model import DriverRecord

STUDY = DriverRecord(kind="case_study", slug="zone", title="Leadership Zone", impact="Used.",
                     summary="The story.", tags=("Leadership",),
                     fields={"impact": "Used.", "story": "The story.", "timeline": "2015"})


def entry(day: int, action: str, *keys: str, by: str = "alice") -> HistoryEntry:
    return HistoryEntry(datetime(2026, 12, day, tzinfo=UTC), by, action,
                        {key: ["before", "after"] for key in keys})


def test_a_value_is_the_librarians_until_an_import_sets_it_again() -> None:
    history = [entry(4, "updated", "fields.timeline", by="import"),
               entry(3, KEPT_ACTION, "impact", by="import"),
               entry(2, "edited", "impact", "fields.timeline", "tags"),
               entry(1, "created", "impact", "fields.timeline", "tags", by="import")]
    assert sorted(local_edits(history)) == ["impact", "tags"]


def test_a_case_studys_story_edited_here_is_kept_and_reported_once() -> None:
    edited = replace(STUDY, summary="Our story.", tags=(),
                     fields={**STUDY.fields, "story": "Our story."})
    page = replace(STUDY, fields={**STUDY.fields, "timeline": "2016"})
    history = [entry(2, "edited", "summary", "fields.story", "tags")]
    record, kept = keep_local_edits(edited, page, local_edits(history))
    assert (record.summary, record.fields["story"], record.tags) == ("Our story.", "Our story.",
                                                                     ())
    assert record.fields["timeline"] == "2016"  # nobody edited it here: the page's
    assert [(k.name, k.ours, k.page) for k in kept] == [
        ("summary", "Our story.", "The story."), ("tags", [], ["Leadership"])]
    noted = HistoryEntry(datetime(2026, 12, 3, tzinfo=UTC), "import", KEPT_ACTION,
                         {edit.key: edit.note() for edit in kept[:1]})
    assert [k.name for k in not_yet_noted(kept, [noted, *history])] == ["tags"]
