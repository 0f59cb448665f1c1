"""Explanations, ranking, highlighting and topic test sets (pure core)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from awareness.errors import ConfigError
from awareness.model import Hit, ItemText
from awareness.subscriptions import parse_topic
from awareness.topics.examples import run_examples, shortest
from awareness.topics.explain import explain, lines, reasons
from awareness.topics.highlight import highlight, mark_caret
from awareness.topics.query import parse_query
from awareness.topics.ranking import score

TOPICS = Path(__file__).parents[1] / "subscriptions" / "topics"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------- explanations

def test_explanation_names_clauses_words_and_fields() -> None:
    query = parse_query('(leader* OR "talent management") NOT flu AND title:nurse')
    clause = explain(query, ItemText("Nurse leadership", "Leaders and talent management"))
    assert clause.matched
    assert lines(clause) == [
        '+ (leader* OR "talent management") NOT flu AND title:nurse  '
        "[title: leadership, nurse; summary: leaders, talent management]",
        '  + leader* OR "talent management"  '
        "[title: leadership; summary: leaders, talent management]",
        "    + leader*  [title: leadership; summary: leaders]",
        '    + "talent management"  [summary: talent management]',
        "  + NOT flu  [absent]",
        "  + title:nurse  [title: nurse]",
    ]


def test_explanation_of_a_failure_says_what_broke_it() -> None:
    clause = explain(parse_query("leader* NOT flu"), ItemText("Flu leaders"))
    assert not clause.matched
    assert lines(clause)[-1] == "  - NOT flu  [present: title: flu]"


# ---------------------------------------------------------------- ranking

def hits_of(query: str, item: ItemText) -> tuple[Hit, ...]:
    return parse_query(query).match(item)


def test_a_title_hit_outranks_a_summary_hit() -> None:
    in_title = ItemText("Leadership matters", "A report on boards.")
    in_summary = ItemText("A report on boards", "Leadership matters.")
    assert score(hits_of("leader*", in_title), in_title) > \
        score(hits_of("leader*", in_summary), in_summary)


def test_more_matched_words_and_repeats_rank_higher_with_saturation() -> None:
    one = ItemText("x", "leadership " + "filler " * 30)
    three = ItemText("x", "leadership " * 3 + "filler " * 28)
    nine = ItemText("x", "leadership " * 9 + "filler " * 22)
    s1, s3, s9 = (score(hits_of("leadership", i), i) for i in (one, three, nine))
    assert s1 < s3 < s9
    assert s9 - s3 < s3 - s1, "BM25 saturates term frequency"


def test_a_short_field_weighs_more_than_a_long_one() -> None:
    short = ItemText("x", "leadership today")
    long = ItemText("x", "leadership today " + "and much more besides " * 30)
    assert score(hits_of("leadership", short), short) > score(hits_of("leadership", long), long)


def test_rarer_words_weigh_more_with_an_idf() -> None:
    item = ItemText("Leadership and culture")
    hits = hits_of("leadership OR culture", item)
    rare = {"leadership": 5.0, "culture": 0.1}
    just_leadership = score(hits[:1], item, idf=rare.__getitem__)
    just_culture = score(hits[1:], item, idf=rare.__getitem__)
    assert just_leadership > just_culture


def test_recency_breaks_ties_but_never_beats_relevance() -> None:
    item = ItemText("Leadership matters")
    hits = hits_of("leader*", item)
    new = score(hits, item, published=NOW - timedelta(days=1), now=NOW)
    old = score(hits, item, published=NOW - timedelta(days=60), now=NOW)
    undated = score(hits, item)
    assert new > old > undated
    better = ItemText("Leadership matters for leaders")
    assert score(hits_of("leader*", better), better, published=NOW - timedelta(days=400),
                 now=NOW) > new


# ---------------------------------------------------------------- highlighting

def test_highlight_marks_words_as_written_and_escapes_everything_else() -> None:
    title = "The King’s Fund on <leadership> & the NHS Long-Term Plan"
    hits = hits_of('"kings fund" OR leader* OR "long term plan"', ItemText(title))
    assert str(highlight(title, hits, "title")) == (
        "The <mark>King’s Fund</mark> on &lt;<mark>leadership</mark>&gt; &amp; the NHS "
        "<mark>Long-Term Plan</mark>")


def test_highlight_ignores_other_fields_and_marks_both_ends_of_a_near() -> None:
    item = ItemText("Leadership", "Nurses: a plan for retention of leaders")
    hits = hits_of("title:leader* OR nurs* NEAR/3 retention", item)
    assert str(highlight(item.summary, hits, "summary")) == (
        "<mark>Nurses</mark>: a plan for <mark>retention</mark> of leaders")


def test_a_query_problem_marks_the_character_its_caret_points_at() -> None:
    # A caret line leaves its column as soon as a narrow page wraps the query above it;
    # the character itself is marked instead, and the caret line goes.
    problem = ('topics/t.toml:3: query: dangling operator (column 9)\n    a <b> OR\n'
               "          ^\n    x AND (\n              ^")
    assert str(mark_caret(problem)) == (
        "topics/t.toml:3: query: dangling operator (column 9)\n"
        '    a &lt;b&gt; <mark class="at-fault">O</mark>R\n'
        '    x AND (<mark class="at-fault">\u00a0</mark>')  # past the end: what is missing
    assert str(mark_caret("no caret here\n^ not alone")) == "no caret here\n^ not alone"


def test_a_long_summary_becomes_a_snippet_around_the_first_hit() -> None:
    summary = "Background words. " * 40 + "Compassionate leadership matters. " + "Tail. " * 40
    hits = hits_of("leader*", ItemText("x", summary))
    snippet = str(highlight(summary, hits, "summary", max_chars=200, context=40))
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>leadership</mark>" in snippet
    assert len(snippet) < 260
    assert str(highlight(summary, (), "summary", max_chars=50)).startswith("Background words.")


def test_hostile_text_stays_inert() -> None:
    text = '<script>alert("leader")</script> leader'
    out = str(highlight(text, hits_of("leader", ItemText(text)), "title"))
    assert "<script>" not in out
    assert out.count("<mark>leader</mark>") == 2


# ---------------------------------------------------------------- test sets

@pytest.mark.parametrize("path", sorted(TOPICS.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_topic_test_sets_pass(path: Path) -> None:
    topic = parse_topic(path.read_text(encoding="utf-8"), str(path), path.stem)
    assert topic.examples
    assert [f.message() for f in run_examples(topic)] == []


def test_a_failing_example_is_reported_with_its_explanation() -> None:
    topic = parse_topic('''
name = "t"
description = "d"
query = "leader* NOT flu"
[[examples]]
title = "Flu leaders meet"
expect = "match"
[[examples]]
title = "Leadership"
expect = "no-match"
[[examples]]
title = "Leadership"
expect = "match"
''', "topics/t.toml", "t")
    failures = run_examples(topic)
    assert [f.index for f in failures] == [1, 2]
    assert failures[0].message() == (
        'examples #1: expected a match for "Flu leaders meet", but it did not match\n'
        "    - leader* NOT flu  [not found]\n"
        "      + leader*  [title: leaders]\n"
        "      - NOT flu  [present: title: flu]")
    assert failures[1].message().startswith(
        'examples #2: expected no match for "Leadership", but it matched\n'
        "    + leader* NOT flu  [title: leadership]")


@pytest.mark.parametrize(("line", "message"), [
    ("OR nurse NEAR retention", "NEAR without a distance"),
    ("OR titel:nurse", "unknown field 'titel:'"),
    ("OR ?urse", "wildcard at the start of a word"),
])
def test_query_errors_in_a_topic_file_name_file_line_column_and_show_a_caret(
        line: str, message: str) -> None:
    text = f'name = "t"\ndescription = "d"\nquery = """\nleader*\n{line}\n"""\n'
    with pytest.raises(ConfigError) as caught:
        parse_topic(text, "topics/t.toml", "t")
    located = caught.value.located()
    assert located.startswith(f"topics/t.toml:5: query: {message}")
    shown, caret = located.splitlines()[1:]
    column = line.index(line.split()[2] if "NEAR" in line else line.split()[1]) + 1
    assert shown == f"    {line}"
    assert caret == "    " + " " * (column - 1) + "^"


def test_a_topic_file_sets_the_spelling_option() -> None:
    text = 'name = "t"\ndescription = "d"\nquery = "organisation"\nspelling = "uk-us"\n'
    assert parse_topic(text, "t.toml", "t").query.match(ItemText("Organization"))
    with pytest.raises(ConfigError, match="spelling must be one of none, uk-us"):
        parse_topic(text.replace('"uk-us"', '"american"'), "t.toml", "t")


def test_why_an_item_matched_is_the_parts_of_the_strategy_that_found_it() -> None:
    # Under each match the try page repeated the whole strategy (for Leadership, 11 lines)
    # before the two or three terms that found the item; only those parts are given now.
    topic = parse_topic((TOPICS / "leadership.toml").read_text("utf-8"),
                        "leadership.toml", "leadership")
    item = ItemText("Trust board appoints new chief executive",
                    "Directors set out a coaching culture; the leaders thank staff.")
    found = reasons(topic.query, item)
    assert [line for clause in found for line in lines(clause)] == [
        "+ leader*  [summary: leaders]",
        '+ "chief executive*" AND appoint*  [title: chief executive, appoints]',
        '  + "chief executive*"  [title: chief executive]',
        "  + appoint*  [title: appoints]",
        "+ (executive* OR board* OR director*) AND (culture OR coaching)  "
        "[title: executive, board; summary: directors, culture, coaching]",
        "  + executive* OR board* OR director*  "
        "[title: executive, board; summary: directors]",
        "    + executive*  [title: executive]",
        "    + board*  [title: board]",
        "    + director*  [summary: directors]",
        "  + culture OR coaching  [summary: culture, coaching]",
        "    + culture  [summary: culture]",
        "    + coaching  [summary: coaching]",
    ]
    assert reasons(topic.query, ItemText("Flu vaccine programme")) == ()


def test_a_reason_keeps_its_field_limit_exclusions_and_near() -> None:
    query = parse_query("title:(nurse* OR midwi*) OR (leader* NOT retire* AND (coach* OR "
                        "mentor*)) OR nurse* NEAR/3 retention OR physio*")
    item = ItemText("Nurse and midwife leaders", "Mentoring nurses improves retention.")
    assert [line for clause in reasons(query, item) for line in lines(clause)] == [
        "+ title:nurse*  [title: nurse]",
        "+ title:midwi*  [title: midwife]",
        "+ leader* NOT retire* AND mentor*  [title: leaders; summary: mentoring]",
        "  + leader*  [title: leaders]",
        "  + NOT retire*  [absent]",
        "  + mentor*  [summary: mentoring]",
        "+ nurse* NEAR/3 retention  [summary: nurses, retention]",
    ]


def test_a_test_set_example_keeps_only_what_the_strategy_needs() -> None:
    query = parse_query('leader* OR (policy AND "NHS England")')
    whole = ItemText("Leaders meet", "A summary", ("Workforce",), "NHS England")
    assert shortest(query, whole) == ItemText("Leaders meet")
    by_summary = ItemText("Boards meet", "Leaders too", ("Workforce",), "NHS England")
    assert shortest(query, by_summary) == ItemText("Boards meet", "Leaders too")
    by_publisher = ItemText("New policy", "", ("Workforce",), "NHS England")
    assert shortest(query, by_publisher) == by_publisher
    unmatched = ItemText("Flu", "Jabs", ("Winter",), "NHS England")
    assert shortest(query, unmatched) == unmatched
