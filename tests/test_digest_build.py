"""Building digests: grouping, ranking, one copy per item, and naming periods (pure core)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness.digests.build import (
    DigestDriver,
    DigestEntry,
    build_digest,
    first_sentence,
    item_identity,
    period_key,
    period_label,
    period_start,
    reader_snippet,
    sentence_starts,
    short_summary,
    visible_text,
)

LONDON = ZoneInfo("Europe/London")


def entry(
    match_id: int,
    *,
    topic: str = "leadership",
    name: str | None = None,
    title: str | None = None,
    link: str | None = "auto",
    score: float = 1.0,
    published: datetime | None = datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
) -> DigestEntry:
    """A digest entry with defaults that make every match a distinct item."""
    return DigestEntry(
        match_id=match_id,
        topic_slug=topic,
        topic_name=name or topic.capitalize(),
        title=title or f"Item {match_id}",
        link=f"https://pub.example/items/{match_id}" if link == "auto" else link,
        publisher="NHS England",
        published=published,
        summary="A summary.",
        score=score,
    )


def build(entries: list[DigestEntry], frequency: str = "weekly"):
    return build_digest(
        subscriber_id=7, frequency=frequency, period_key="weekly:2026-W48", entries=entries
    )


# --- grouping and ordering -------------------------------------------------------------------


def test_nothing_to_send_gives_no_digest():
    assert build([]) is None


def test_sections_are_topics_in_name_order():
    digest = build([
        entry(1, topic="workforce", name="Nursing workforce"),
        entry(2, topic="digital", name="digital"),
        entry(3, topic="leadership", name="Leadership"),
        entry(4, topic="digital", name="digital"),
    ])
    assert digest is not None
    # Case-insensitive: librarians do not expect "digital" to sort after "Nursing".
    assert [s.topic_slug for s in digest.sections] == ["digital", "leadership", "workforce"]
    assert [e.match_id for e in digest.sections[0].entries] == [2, 4]


def test_entries_best_first_then_newest_then_undated_then_title():
    day = datetime(2026, 11, 20, tzinfo=UTC)
    digest = build([
        entry(1, title="B undated", score=1.0, published=None),
        entry(2, title="A undated", score=1.0, published=None),
        entry(3, title="Older", score=1.0, published=day),
        entry(4, title="Newer", score=1.0, published=day + timedelta(days=1)),
        entry(5, title="Best", score=3.5, published=day - timedelta(days=30)),
    ])
    assert digest is not None
    assert [e.match_id for e in digest.entries] == [5, 4, 3, 2, 1]


def test_naive_published_is_read_as_utc_not_local_time():
    aware = entry(1, published=datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    naive = entry(2, published=datetime(2026, 11, 20, 12, 30))
    digest = build([aware, naive])
    assert digest is not None
    assert [e.match_id for e in digest.entries] == [2, 1]


def test_unknown_frequency_is_refused():
    with pytest.raises(ValueError, match="frequency"):
        build([entry(1)], frequency="hourly")


# --- one copy per item ------------------------------------------------------------------------


def test_item_matching_two_topics_appears_once_in_its_best_topic():
    link = "https://www.england.nhs.uk/long-read/leadership-framework/"
    digest = build([
        entry(1, topic="leadership", link=link, score=1.0),
        entry(2, topic="digital", link=link + "?utm_source=rss#top", score=2.0),
        entry(3, topic="leadership"),
    ])
    assert digest is not None
    assert digest.entry_count == 2
    assert {e.match_id for e in digest.entries} == {2, 3}
    assert [s.topic_slug for s in digest.sections] == ["digital", "leadership"]
    # The folded match is delivered with this digest, so it does not come back next time.
    assert digest.folded_match_ids == (1,)
    assert sorted(digest.match_ids) == [1, 2, 3]


def test_a_story_from_several_publishers_names_the_others():
    # Issue 16: "also published by" appeared nowhere, though item-identity.md said it did.
    from dataclasses import replace
    cqc = replace(entry(1, score=3.0), publisher="Care Quality Commission", story="9")
    govuk = replace(entry(2, topic="digital", score=1.0), publisher="GOV.UK", story="9")
    again = replace(entry(3, score=0.5), publisher="GOV.UK", story="9")
    same = replace(entry(4, topic="digital", score=2.0), publisher="Care Quality Commission",
                   story="9")
    digest = build([govuk, cqc, again, same, entry(5)])
    assert digest is not None
    [shown] = [e for e in digest.entries if e.story == "9"]
    assert shown.match_id == 1 and shown.also_published_by == ("GOV.UK",)
    assert sorted(digest.folded_match_ids) == [2, 3, 4]
    [alone] = [e for e in digest.entries if e.match_id == 5]
    assert alone.also_published_by == ()


def test_items_without_links_are_the_same_when_titles_are():
    digest = build([
        entry(1, topic="a", link=None, title="State of Care  2025/26"),
        entry(2, topic="b", link="javascript:alert(1)", title="state of care 2025/26"),
        entry(3, topic="b", link=None, title="State of Care 2024/25"),
    ])
    assert digest is not None
    assert digest.entry_count == 2
    assert digest.folded_match_ids == (2,)


def test_identity_prefers_the_normalised_link():
    a = entry(1, link="http://www.pub.example/report/?utm_medium=feed", title="One title")
    b = entry(2, link="https://pub.example/report", title="Another title")
    assert item_identity(a) == item_identity(b)


def test_best_entry_is_the_top_ranked_across_sections():
    digest = build([entry(1, topic="a", score=1.0), entry(2, topic="b", score=5.0)])
    assert digest is not None
    assert digest.best_entry.match_id == 2
    assert digest.topic_names == ("A", "B")


def test_drivers_travel_with_their_entry():
    driver = DigestDriver("Interim NHS People Plan", "Libraries can…", "https://a.example/d")
    digest = build([DigestEntry(1, "t", "T", "x", None, "p", None, "s", 1.0, (driver,))])
    assert digest is not None
    assert digest.entries[0].drivers == (driver,)


scores = st.floats(min_value=0, max_value=10, allow_nan=False)
links = st.sampled_from([None, "https://a.example/1", "https://a.example/1?utm_source=x",
                         "https://a.example/2", "javascript:alert(1)"])
titles = st.sampled_from(["Report", "report", "Other report", "Plan"])
topics = st.sampled_from(["leadership", "digital", "workforce"])
dates = st.one_of(st.none(), st.datetimes(min_value=datetime(2020, 1, 1),
                                          max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))


@st.composite
def entry_lists(draw: st.DrawFn) -> list[DigestEntry]:
    count = draw(st.integers(min_value=0, max_value=25))
    return [
        DigestEntry(
            match_id=i, topic_slug=(slug := draw(topics)), topic_name=slug.title(),
            title=draw(titles), link=draw(links), publisher="P", published=draw(dates),
            summary="", score=draw(scores),
        )
        for i in range(count)
    ]


@given(entry_lists())
def test_every_match_is_accounted_for_exactly_once(entries: list[DigestEntry]):
    digest = build(entries)
    if not entries:
        assert digest is None
        return
    assert digest is not None
    assert sorted(digest.match_ids) == sorted(e.match_id for e in entries)
    shown = [item_identity(e) for e in digest.entries]
    assert len(shown) == len(set(shown)) == len({item_identity(e) for e in entries})
    for section in digest.sections:
        assert section.entries, "no empty sections"
        assert all(e.topic_slug == section.topic_slug for e in section.entries)
        ranked = [(-e.score) for e in section.entries]
        assert ranked == sorted(ranked)


@given(entry_lists())
def test_shown_copy_is_the_best_scoring_one(entries: list[DigestEntry]):
    digest = build(entries)
    for shown in digest.entries if digest else ():
        same = [e.score for e in entries if item_identity(e) == item_identity(shown)]
        assert shown.score == max(same)


# --- periods ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "daily", "weekly"),
    [
        # Winter (GMT = UTC): just before and after midnight.
        (datetime(2026, 11, 25, 23, 59, tzinfo=UTC), "daily:2026-11-25", "weekly:2026-W48"),
        (datetime(2026, 11, 26, 0, 0, tzinfo=UTC), "daily:2026-11-26", "weekly:2026-W48"),
        # Summer (BST = UTC+1): 23:30 UTC is already tomorrow in London.
        (datetime(2026, 6, 30, 23, 30, tzinfo=UTC), "daily:2026-07-01", "weekly:2026-W27"),
        # Sunday 23:30 UTC in summer is Monday 00:30 in London: a new week has begun.
        (datetime(2026, 6, 28, 23, 30, tzinfo=UTC), "daily:2026-06-29", "weekly:2026-W27"),
        (datetime(2026, 6, 28, 22, 59, tzinfo=UTC), "daily:2026-06-28", "weekly:2026-W26"),
        # Clocks go forward 29 March 2026 01:00 UTC; back 25 October 2026 01:00 UTC.
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), "daily:2026-03-28", "weekly:2026-W13"),
        (datetime(2026, 3, 29, 23, 30, tzinfo=UTC), "daily:2026-03-30", "weekly:2026-W14"),
        (datetime(2026, 10, 24, 23, 30, tzinfo=UTC), "daily:2026-10-25", "weekly:2026-W43"),
        (datetime(2026, 10, 25, 23, 30, tzinfo=UTC), "daily:2026-10-25", "weekly:2026-W43"),
        # ISO week years: 1 January 2027 is in week 53 of 2026; 30 December 2024 in 2025-W01.
        (datetime(2027, 1, 1, 12, 0, tzinfo=UTC), "daily:2027-01-01", "weekly:2026-W53"),
        (datetime(2024, 12, 30, 12, 0, tzinfo=UTC), "daily:2024-12-30", "weekly:2025-W01"),
    ],
)
def test_period_keys_in_london(now: datetime, daily: str, weekly: str):
    assert period_key("daily", now, LONDON) == daily
    assert period_key("weekly", now, LONDON) == weekly


def test_period_key_needs_an_aware_time_and_a_known_frequency():
    with pytest.raises(ValueError, match="timezone-aware"):
        period_key("daily", datetime(2026, 11, 26, 7, 0), LONDON)
    with pytest.raises(ValueError, match="frequency"):
        period_key("monthly", datetime(2026, 11, 26, 7, 0, tzinfo=UTC), LONDON)


def test_period_labels_and_starts():
    assert period_label("daily:2026-11-26") == "26 November 2026"
    assert period_label("weekly:2026-W48") == "week beginning 23 November 2026"
    assert period_start("weekly:2026-W53") == date(2026, 12, 28)
    for bad in ("weekly:2026-48", "monthly:2026-11", "daily:26/11/2026", ""):
        with pytest.raises(ValueError, match="period key"):
            period_start(bad)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)))
def test_period_keys_round_trip_to_their_start(now: datetime):
    local_day = now.astimezone(LONDON).date()
    assert period_start(period_key("daily", now, LONDON)) == local_day
    monday = period_start(period_key("weekly", now, LONDON))
    assert monday.weekday() == 0
    assert 0 <= (local_day - monday).days < 7


# --- short summaries --------------------------------------------------------------------------


def test_short_summary_keeps_short_text_and_collapses_whitespace():
    assert short_summary("  One\n\ttwo   three ") == "One two three"


def test_short_summary_cuts_at_a_word_boundary():
    text = "The framework sets out six competency domains for board members"
    assert short_summary(text, 30) == "The framework sets out six…"


def test_short_summary_cuts_a_single_huge_word():
    assert short_summary("x" * 500, 10) == "x" * 9 + "…"


def test_visible_text_removes_controls_and_bidi_overrides():
    assert visible_text("a\r\nBcc: b\x00c\u202ed\u2066e\u200bf\u2028g") == "a Bcc: bcdef g"


def visible_by_definition(text: str) -> str:
    """``visible_text`` as its docstring defines it, one character at a time."""
    kept = (" " if ch.isspace() else ch for ch in text
            if ch.isspace() or unicodedata.category(ch) not in {"Cc", "Cf", "Cs"})
    return " ".join("".join(kept).split())


@given(st.text(alphabet=st.characters(codec=None)) | st.text(
    alphabet="a \t\r\n\x00\x1c\x85\xa0\u200b\u202e\u2028\ufeff\ud800\U000e0001"))
def test_visible_text_keeps_exactly_what_its_definition_keeps(text: str):
    # Why: the translate table is filled in lazily, so check it against the per-character
    # rule for any text, lone surrogates, tags and unassigned code points included.
    assert visible_text(text) == visible_by_definition(text)


@given(st.text(), st.integers(min_value=1, max_value=400))
def test_short_summary_is_one_line_within_the_limit(text: str, limit: int):
    result = short_summary(text, limit)
    assert len(result) <= limit
    assert "\n" not in result and "\r" not in result and "\x00" not in result
    assert result == visible_text(text) or result.endswith("…")


# --- snippets for readers (issue 12) -----------------------------------------------------------

TEXT = ("The framework sets out six domains. Dr. Smith chairs it (p. 5). It applies from "
        "April 2027! Boards are asked to report on it every year in their annual report.")


def test_sentences_start_after_a_full_stop_but_not_after_an_abbreviation():
    assert [TEXT[s:s + 12] for s in sentence_starts(TEXT)] == [
        "The framewor", "Dr. Smith ch", "It applies f", "Boards are a"]


@pytest.mark.parametrize(("limit", "snippet"), [
    (500, TEXT),
    (90, "The framework sets out six domains. Dr. Smith chairs it (p. 5). …"),
    (40, "The framework sets out six domains. …"),
    (30, "The framework sets out six…"),
])
def test_a_snippet_ends_at_a_sentence_or_else_a_word(limit: int, snippet: str):
    assert reader_snippet(TEXT, limit) == snippet


def test_a_snippet_can_start_at_the_sentence_holding_a_word():
    at = TEXT.index("Boards")
    assert reader_snippet(TEXT, 100, start_near=at + 10) == (
        "Boards are asked to report on it every year in their annual report.")


@pytest.mark.parametrize("cut", ["…set out six domains. ", "set out six domains. ",
                                 "... six domains. "])
def test_a_summary_the_feed_cut_mid_sentence_starts_at_its_next_sentence(cut: str):
    assert reader_snippet(cut + "Boards report on it.") == "Boards report on it."
    assert reader_snippet(cut.strip()) == cut.strip()  # nothing better to show


def test_first_sentence_is_one_line_of_impact():
    assert first_sentence("Libraries support\nthe skills. More text.") == (
        "Libraries support the skills.")
    assert first_sentence("word " * 100, 40) == short_summary("word " * 100, 40)


@pytest.mark.parametrize(("impact", "line"), [
    # Impact fields of the MAP toolkit's leadership records (tests/data), as written there.
    ("- Library staff should take up the opportunity to attend training.\n- There may be "
     "increased demand.", "Library staff should take up the opportunity to attend training."),
    ("None of drivers are specifically aimed at libraries but there opportunities for "
     "libraries.\n\n- The recommendation for ‘Leadership’ states ‘national support’.",
     "None of drivers are specifically aimed at libraries but there opportunities for "
     "libraries."),
    ("Opportunities for libraries:\n* Curate knowledge for leaders.\n* Run training.",
     "Opportunities for libraries: Curate knowledge for leaders."),
    ("1. Promote the collection.\n2. Join the conference.", "Promote the collection."),
    ("Libraries can help\n\nLibraries can provide access to evidence.", "Libraries can help"),
    ("A range of 5 - 10 services\nis offered. More.", "A range of 5 - 10 services is offered."),
])
def test_first_sentence_of_a_list_or_paragraphs_is_its_first_point(impact, line):
    assert first_sentence(impact) == line


@given(st.text(alphabet=st.sampled_from("ab .!?\"”)\nAZ19"), max_size=400),
       st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=400))
def test_a_snippet_is_one_line_within_the_limit_starting_at_a_sentence(
        text: str, limit: int, start_near: int):
    snippet = reader_snippet(text, limit, start_near)
    line = visible_text(text)
    assert len(snippet) <= limit and "\n" not in snippet
    starts = [line[s:] for s in sentence_starts(line)]
    body = snippet.removesuffix("…").rstrip()
    assert any(rest.startswith(body) for rest in starts), (line, snippet)
    assert snippet in starts or snippet.endswith("…")
