"""Issue 4 constructs of the query language: wildcards, NEAR, field limits, UK/US spelling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness.model import Hit, ItemText
from awareness.topics.query import (
    Field,
    Near,
    Phrase,
    Term,
    WordPattern,
    lint_query,
    parse_query,
)
from awareness.topics.spelling import variants

T = WordPattern


def match(query: str, title: str, summary: str = "", categories: tuple[str, ...] = (),
          source: str = "", spelling: str = "none") -> tuple[Hit, ...]:
    return parse_query(query, spelling).match(ItemText(title, summary, categories, source))


# ---------------------------------------------------------------- parsing

@pytest.mark.parametrize(("query", "ast"), [
    ("organi?ation", Term(T("organi?ation"))),
    ("colo#r*", Term(T("colo#r", truncated=True))),
    ('"organi?ation develop*"', Phrase((T("organi?ation"), T("develop", truncated=True)))),
    ("a NEAR/3 b", Near(Term(T("a")), Term(T("b")), 3)),
    ("a N0 b", Near(Term(T("a")), Term(T("b")), 0)),
    ("a NEAR/1 b NEAR/2 c", Near(Near(Term(T("a")), Term(T("b")), 1), Term(T("c")), 2)),
    ("title:leader*", Field("title", Term(T("leader", truncated=True)))),
    ("Title:leader", Field("title", Term(T("leader")))),
    ("title: leader", Field("title", Term(T("leader")))),
    ('source:"King\'s Fund"', Field("source", Phrase((T("kings"), T("fund"))))),
])
def test_parse_builds_the_ast(query: str, ast: object) -> None:
    assert parse_query(query).ast == ast


@pytest.mark.parametrize(("query", "reading"), [
    ("a NOT b NEAR/2 c", "a NOT b NEAR/2 c"),
    ("a NEAR/2 b OR c", "a NEAR/2 b OR c"),
    ("(a OR b) NEAR/2 (c OR d)", "(a OR b) NEAR/2 (c OR d)"),
    ("a NEAR/2 (b NEAR/1 c)", "a NEAR/2 (b NEAR/1 c)"),
    ("title:(a OR b) c", "title:(a OR b) AND c"),
    ("title:(a NEAR/3 b)", "title:(a NEAR/3 b)"),
    ("N95 masks", "n95 AND masks"),
    ("masks N95", "masks AND n95"),
    ("a N3 b", "a NEAR/3 b"),
])
def test_precedence_and_rendering(query: str, reading: str) -> None:
    assert parse_query(query).ast.render() == reading
    assert parse_query(reading).ast == parse_query(query).ast


# ---------------------------------------------------------------- matching

@pytest.mark.parametrize(("query", "title", "expected"), [
    ("organi?ation", "Organisation", True),
    ("organi?ation", "Organization", True),
    ("organi?ation", "Organiation", False),
    ("colo#r", "Color", True),
    ("colo#r", "Colour", True),
    ("colo#r", "Colouur", False),
    ("wom?n", "Women", True),
    ("wom?n*", "Womens health", True),
    ("nurse NEAR/0 retention", "Retention nurse", True),
    ("nurse NEAR/0 retention", "Nurse and retention", False),
    ("nurse NEAR/1 retention", "Nurse and retention", True),
    ("nurse NEAR/1 nurse", "nurse nurse", True),
    ("nurse NEAR/1 nurse", "nurse", False),
    ('"staff survey" NEAR/1 result*', "Staff survey: the results", True),
    ('"staff survey" NEAR/0 result*', "Results staff survey", True),
    ("(a OR b) NEAR/0 c", "b c", True),
    ("(x NEAR/0 y) NEAR/1 z", "z q x y", True),
    ("(x NEAR/0 y) NEAR/1 z", "z q r x y", False),
])
def test_matching(query: str, title: str, expected: bool) -> None:
    assert bool(match(query, title)) is expected


def test_near_needs_both_in_the_same_field_and_category() -> None:
    assert not match("nurse NEAR/5 retention", "Nurse", "retention")
    assert not match("nurse NEAR/5 retention", "x", categories=("Nurse", "Retention"))
    assert match("nurse NEAR/5 retention", "x", categories=("Nurse retention",))


def test_near_hits_name_each_side_so_both_ends_can_be_highlighted() -> None:
    hits = match("nurs* NEAR/3 retention", "Nurses: a plan for retention")
    assert hits == (Hit("nurs* NEAR/3 retention", "title", "nurses"),
                    Hit("nurs* NEAR/3 retention", "title", "retention"))
    hits = match('"staff survey" NEAR/2 result*', "Results of the staff survey")
    assert {h.word for h in hits} == {"results", "staff survey"}


def test_field_limits_search_only_that_field() -> None:
    assert match("title:leader*", "Leadership")
    assert not match("title:leader*", "x", "Leadership")
    assert match("summary:leader*", "x", "Leadership")
    assert match("category:workforce", "x", categories=("Workforce",))
    assert not match("workforce", "x", source="Workforce Academy")
    assert match("source:workforce", "x", source="Workforce Academy")
    assert match("source:nhs-england", "x", source="NHS England nhs-england")
    assert match("title:(summary:x)", "y", "x"), "the innermost limit applies"


def test_field_limited_hits_name_the_field() -> None:
    assert match('source:"kings fund"', "x", source="The King’s Fund kings-fund") == (
        Hit('"kings fund"', "source", "kings fund"),)


# ---------------------------------------------------------------- spelling

@pytest.mark.parametrize(("word", "expected"), [
    ("organisation", ("organization",)),
    ("organization", ("organisation",)),
    ("paediatric", ("pediatric",)),
    ("programme", ("program",)),
    ("program", ("programme",)),
    ("programmes", ("programs",)),
    ("colour", ("color",)),
    ("four", ()),
    ("nurse", ()),
])
def test_spelling_variants(word: str, expected: tuple[str, ...]) -> None:
    assert variants(word) == expected


def test_spelling_applies_to_truncations_wildcards_and_phrases() -> None:
    assert match("organis*", "Organizational change", spelling="uk-us")
    assert match("paediatr*", "Pediatrics", spelling="uk-us")
    assert match('"colour blind"', "Color blind", spelling="uk-us")
    assert match("behavio#r*", "Behaviours", spelling="uk-us")
    assert not match("organis*", "Organizational change")


def test_spelling_changes_the_profile_version() -> None:
    assert parse_query("colour").version != parse_query("colour", "uk-us").version
    assert parse_query("colour").version == parse_query("colour\n").version


# ---------------------------------------------------------------- properties

LEAVES = ["nurse", "nurs*", "leader*", "care", '"long term"', "lo#ng", "c?re", "title:plan",
          "summary:care", "(nurse OR care) NEAR/1 plan", "flu N2 care"]
OPERATORS = [" AND ", " OR ", " NOT ", " "]
VOCABULARY = ["nurse", "nursing", "leader", "leadership", "care", "cure", "plan", "long",
              "lonng", "term", "flu"]
queries = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.tuples(inner, st.sampled_from(OPERATORS), inner).map(
        lambda parts: f"({parts[0]}){parts[1]}({parts[2]})"),
    max_leaves=6,
)
items = st.builds(
    ItemText,
    title=st.lists(st.sampled_from(VOCABULARY), max_size=6).map(" ".join),
    summary=st.lists(st.sampled_from(VOCABULARY), max_size=8).map(" ".join),
    categories=st.lists(st.sampled_from(VOCABULARY), max_size=2).map(tuple),
)


@given(queries, queries, items)
def test_adding_not_never_adds_matches(a: str, b: str, item: ItemText) -> None:
    if parse_query(f"({a}) NOT ({b})").match(item):
        assert parse_query(a).match(item)


@given(queries, queries, items)
def test_or_is_a_superset(a: str, b: str, item: ItemText) -> None:
    if parse_query(a).match(item):
        assert parse_query(f"({a}) OR ({b})").match(item)


@given(queries)
def test_rendering_parses_back_to_the_same_ast(text: str) -> None:
    ast = parse_query(text).ast
    assert parse_query(ast.render()).ast == ast


@given(st.sampled_from(["nurse", "care", "plan", "nurs*"]),
       st.sampled_from(["nurse", "care", "plan", "term"]), st.integers(0, 4), items)
def test_near_implies_and_and_grows_with_distance(a: str, b: str, n: int, item: ItemText) -> None:
    near = bool(parse_query(f"{a} NEAR/{n} {b}").match(item))
    if near:
        assert parse_query(f"{a} AND {b}").match(item)
        assert parse_query(f"{a} NEAR/{n + 1} {b}").match(item)
    assert near == bool(parse_query(f"{b} NEAR/{n} {a}").match(item)), "either order"


@pytest.mark.parametrize(("query", "warnings"), [
    ("surgical N95 masks", ["'N95' at column 10 is read as NEAR/95"]),
    ('surgical "N95" masks', []),
    ("nurse N3 retention", []),
    ("nurse NEAR/12 retention", []),
])
def test_lint_warns_when_a_word_like_n95_is_read_as_proximity(query: str,
                                                              warnings: list[str]) -> None:
    found = lint_query(query)
    assert len(found) == len(warnings)
    for warning, expected in zip(found, warnings, strict=True):
        assert warning.startswith(expected)
