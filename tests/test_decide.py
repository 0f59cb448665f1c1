"""The pure decide steps of a poll, without a database (issue 11): what to store of a fetch,
the source's next state, definitions to sync, and what re-matching does with a match."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness.matching import StoredMatch, rematch_action
from awareness.model import ParsedItem
from awareness.sources import redirects, schedule
from awareness.sources.decide import (
    SourceState,
    StoredDefinition,
    StoredEntry,
    after_failure,
    after_success,
    definition_changes,
    store_intent,
    stored_warnings,
    tombstone_keys,
)
from awareness.sources.fetch import parse_freshness
from awareness.sources.identity import KnownItem, link_digest, title_digest
from awareness.subscriptions import SourceDef

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
SOURCE = SourceState(id="nhse", publisher="NHS England", kind="feed",
                     url="https://www.england.nhs.uk/feed/", interval_minutes=60)


def entry(key: str, title: str = "Title", link: str | None = None,
          summary: str = "") -> ParsedItem:
    return ParsedItem(key=key, title=title, link=link, summary_html=summary,
                      summary_text=summary, published=NOW)


def stored(item_id: int, key: str, title: str = "Title", link: str | None = None,
           summary: str = "", baseline: bool = False) -> StoredEntry:
    return StoredEntry(KnownItem(id=item_id, key=key, link=link, title=title,
                                 summary_text=summary), summary_html=summary,
                       baseline=baseline)


def test_new_entries_become_new_items_with_story_digests_unless_a_baseline():
    a = entry("link:https://p.example/a", "Compassionate leadership", "https://p.example/a")
    live = store_intent([a], [], set(), now=NOW, baseline=False)
    [new] = live.new
    assert (new.key, new.link_key, new.title_key) == (
        a.key, link_digest(a.link), title_digest(a.title))
    [quiet] = store_intent([a], [], set(), now=NOW, baseline=True).new
    assert (quiet.link_key, quiet.title_key) == (None, None)


def test_a_known_entry_is_not_new_and_an_unchanged_one_is_no_edit():
    a = entry("k1", "Same")
    intent = store_intent([a], [stored(7, "k1", "Same")], set(), now=NOW, baseline=False)
    assert (intent.new, intent.edits, intent.updated) == ([], [], 0)


def test_an_edited_title_is_an_edit_of_the_stored_item_not_a_new_one():
    intent = store_intent([entry("k1", "Final guidance")], [stored(7, "k1", "Draft guidance")],
                          set(), now=NOW, baseline=False)
    [edit] = intent.edits
    assert edit.item_id == 7 and intent.updated == 1 and intent.new == []
    assert edit.changes["title"] == "Final guidance"
    assert edit.changes["title_key"] == title_digest("Final guidance")
    assert edit.changes["updated_at"] == NOW


def test_a_baseline_item_edited_keeps_no_title_digest():
    intent = store_intent([entry("k1", "New")], [stored(7, "k1", "Old", baseline=True)], set(),
                          now=NOW, baseline=False)
    assert intent.edits[0].changes["title_key"] is None


def test_a_link_less_entry_with_a_new_guid_is_recognised_by_its_fingerprint():
    intent = store_intent([entry("guid:new", "Weekly bulletin", summary="Dates")],
                          [stored(3, "guid:old", "Weekly bulletin", summary="Dates")], set(),
                          now=NOW, baseline=False)
    assert intent.new == [] and intent.rekeyed == 1
    assert intent.edits[0].changes == {"key": "guid:new"}


def test_a_twin_later_in_the_same_fetch_edits_the_first_instead_of_adding_a_copy():
    intent = store_intent([entry("k1", "First"), entry("k1", "Second")], [], set(), now=NOW,
                          baseline=False)
    [new] = intent.new
    assert new.title == "Second" and new.updated_at == NOW


def test_new_items_are_stored_oldest_first_so_the_newest_gets_the_highest_id():
    # Lists show what arrived last first, by arrival and then id: one fetch's items must show
    # newest first there, whatever order the feed gives them in.
    def dated(key: str, days: int | None) -> ParsedItem:
        published = None if days is None else NOW - timedelta(days=days)
        return ParsedItem(key=key, title=key, link=None, summary_html="", summary_text="",
                          published=published)

    feed = [dated("b", 2), dated("a", 1), dated("undated-top", None), dated("c", 3),
            dated("undated-bottom", None)]
    intent = store_intent(feed, [], set(), now=NOW, baseline=False)
    assert [item.key for item in intent.new] == [
        "undated-bottom", "undated-top", "c", "b", "a"]


def test_a_deleted_item_never_comes_back_under_any_of_its_identities():
    gone = entry("guid:1", "Withdrawn", "https://p.example/w")
    keys = set(tombstone_keys("other-key", gone.link, "x", ""))  # deleted under another key
    assert store_intent([gone], [], keys, now=NOW, baseline=False).new == []


@given(st.dictionaries(st.sampled_from(["k1", "k2", "k3", "k4"]),
                       st.tuples(st.sampled_from(["a", "b", "c"]),
                                 st.none() | st.sampled_from(["https://p.example/1",
                                                              "https://p.example/2"])),
                       max_size=4))
def test_deciding_on_the_same_entries_twice_stores_nothing_the_second_time(feed):
    # D1 as a property of the decision itself: what the first decision stores is known after.
    entries = [entry(key, title, link) for key, (title, link) in feed.items()]
    first = store_intent(entries, [], set(), now=NOW, baseline=False)
    known = [stored(n + 1, item.key, item.title, item.link)
             for n, item in enumerate(first.new)]
    again = store_intent(entries, known, set(), now=NOW, baseline=False)
    assert again.new == [] and again.edits == []


def test_success_resets_the_error_count_and_a_broken_source():
    broken = SourceState(**{**SOURCE.__dict__, "state": "broken", "error_count": 12})
    changes = after_success(broken, etag='"v2"', last_modified=None, body_hash="h",
                            redirect=redirects.RedirectState(), now=NOW)
    assert changes["error_count"] == 0 and changes["state"] == "active"
    assert changes["etag"] == '"v2"' and changes["body_hash"] == "h"
    assert changes["next_check_at"] == NOW + timedelta(minutes=60)
    not_modified = after_success(SOURCE, etag='"v2"', last_modified=None, body_hash=None,
                                 redirect=redirects.RedirectState(), now=NOW)
    assert "body_hash" not in not_modified and "state" not in not_modified


def test_failures_back_off_then_mark_the_source_broken_or_gone():
    first = after_failure(SOURCE, error="HTTP 500", gone=False, retry_after=None, now=NOW,
                          jitter=0.0)
    assert first["error_count"] == 1 and "state" not in first
    assert first["next_check_at"] == NOW + timedelta(minutes=60)
    tenth = after_failure(SourceState(**{**SOURCE.__dict__, "error_count": 9}), error="x",
                          gone=False, retry_after=None, now=NOW, jitter=0.0)
    assert tenth["state"] == "broken"
    assert after_failure(SOURCE, error="410", gone=True, retry_after=None, now=NOW,
                         jitter=0.0)["state"] == "gone"
    patient = after_failure(SOURCE, error="429", gone=False, retry_after=7200, now=NOW,
                            jitter=0.0)
    assert patient["next_check_at"] == NOW + timedelta(hours=2)


def test_rekeyed_items_are_reported_to_the_librarian():
    assert stored_warnings([], 0) is None
    assert "changed the ids of 2 known items" in (stored_warnings(["bozo"], 2) or "")


def test_definitions_sync_writes_only_what_changed():
    d = SourceDef(id="a", name="A", publisher="P", url="https://a.example/feed", kind="feed")
    same = StoredDefinition("a", d.url, "A", "P", "feed", d.interval_minutes, d.enabled)
    assert definition_changes([d], {"a": same}) == ([], [], [])
    moved = StoredDefinition("a", "https://old.example/", "A", "P", "feed",
                             d.interval_minutes, True)
    gone = StoredDefinition("b", "https://b.example/", "B", "P", "feed", 60, True)
    assert definition_changes([d], {"a": moved, "b": gone}) == ([d], ["a"], ["b"])


def test_rematch_never_changes_what_was_sent_or_withdraws_what_was_reviewed():
    def match(status: str, sent: bool = False, reviewed: bool = False) -> StoredMatch:
        return StoredMatch(1, 1, status, sent, reviewed)

    assert rematch_action(None, True) == "new"
    assert rematch_action(None, False) == ""
    assert rematch_action(match("approved", sent=True), False) == "kept_sent"
    assert rematch_action(match("pending"), True) == "updated"
    assert rematch_action(match("pending"), False) == "withdrawn"
    assert rematch_action(match("approved", reviewed=True), False) == "kept_reviewed"


# --- when to look again (issue 16) ------------------------------------------------------------

NOW_ = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("recent", "max_age", "hours"), [
    (None, None, 1),       # cadence unknown (a source younger than a week): its interval
    (500, None, 1),        # busy: never sooner than its interval
    (20, None, 8),         # 7 days / 21 = 8 h: about three a day
    (100, None, 1.66),     # 7 days / 101 ≈ 1.66 h
    (0, None, 8),          # quiet for a week: at most 8 intervals
    (None, 7200, 2),       # the server says fresh for 2 h: not sooner
    (0, 3 * 86400, 24),    # never more than a day
])
def test_a_quiet_source_is_checked_less_often(recent, max_age, hours):
    due = schedule.next_check_after_success(NOW_, 60, recent_items=recent, max_age=max_age)
    assert abs((due - NOW_).total_seconds() - hours * 3600) < 60


def test_a_source_checked_every_day_is_never_stretched_past_a_day():
    due = schedule.next_check_after_success(NOW_, 24 * 60, recent_items=0)
    assert due - NOW_ == timedelta(days=1)


@pytest.mark.parametrize(("cache_control", "expires", "date", "seconds"), [
    ("max-age=600", None, None, 600),
    ("public, max-age=\"900\"", None, None, 900),
    ("no-cache, max-age=600", None, None, None),
    ("no-store", "Sun, 06 Dec 2026 10:00:00 GMT", None, None),
    (None, "Sun, 06 Dec 2026 10:00:00 GMT", "Sun, 06 Dec 2026 09:30:00 GMT", 1800),
    (None, "Sun, 06 Dec 2026 10:00:00 GMT", None, 3600),  # against now
    (None, "0", None, None),  # a bad date: nothing usable
    ("max-age=99999999999", None, None, 86400),
])
def test_freshness_from_the_headers(cache_control, expires, date, seconds):
    assert parse_freshness(cache_control, expires, date, now=NOW_) == seconds
