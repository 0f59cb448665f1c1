"""Whose each value of a driver record is, from its history, and an import that keeps a
librarian's edits (pure core; the database and command-line side is in
test_drivers_service.py and test_driver_sites.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from awareness.drivers.provenance import (
    KEPT_ACTION,
    KeptEdit,
    keep_local_edits,
    local_edits,
    not_yet_noted,
)
from awareness.drivers.records import can_publish, imported_status
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
    record, status, kept = keep_local_edits(edited, page, local_edits(history),
                                            status=("active", "active"))
    assert (record.summary, record.fields["story"], record.tags, status) == (
        "Our story.", "Our story.", (), "active")
    assert record.fields["timeline"] == "2016"  # nobody edited it here: the page's
    assert [(k.name, k.ours, k.page) for k in kept] == [
        ("summary", "Our story.", "The story."), ("tags", [], ["Leadership"])]
    noted = HistoryEntry(datetime(2026, 12, 3, tzinfo=UTC), "import", KEPT_ACTION,
                         {edit.key: edit.note() for edit in kept[:1]})
    assert [k.name for k in not_yet_noted(kept, [noted, *history])] == ["tags"]


def test_a_record_published_here_stays_published_when_a_file_says_draft() -> None:
    record = replace(STUDY, kind="driver")
    published = [entry(2, "edited", "status"), entry(1, "created", "impact", by="import")]
    assert keep_local_edits(record, record, local_edits(published),
                            status=("active", "draft"))[1:] == ("active", (
                                KeptEdit("status", "alice", datetime(2026, 12, 2, tzinfo=UTC),
                                         "active", "draft"),))
    imported = [entry(1, "updated", "status", by="import")]
    assert keep_local_edits(record, record, local_edits(imported),
                            status=("active", "draft"))[1:] == ("draft", ())


def test_an_import_publishes_only_what_can_be_published() -> None:
    assert [imported_status(current, wanted) for current, wanted in (
        (None, None), (None, "draft"), ("draft", None), ("draft", "active"),
        ("deleted", "active"))] == ["active", "draft", "draft", "active", "deleted"]
    assert not can_publish(replace(STUDY, impact=" \n"))
