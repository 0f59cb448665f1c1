"""The topic query language: text model, parser, errors, lint and matcher (pure core)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awareness.errors import QuerySyntaxError
from awareness.model import Hit, ItemText
from awareness.topics.query import (
    And,
    Not,
    Phrase,
    Term,
    WordPattern,
    document,
    lint_query,
    parse_query,
    words,
)
from awareness.topics.spelling import UK_US
from awareness.topics.text import WORD, normalise

DOCS = Path(__file__).parents[1] / "docs"


def matches(query: str, title: str, summary: str = "", categories: tuple[str, ...] = ()) -> bool:
    return bool(parse_query(query).match(ItemText(title, summary, categories)))


# ---------------------------------------------------------------- text model

@pytest.mark.parametrize(("text", "expected"), [
    ("NHS Long-Term Plan", ["nhs", "long", "term", "plan"]),
    ("King’s Fund", ["kings", "fund"]),
    ("King's Fund", ["kings", "fund"]),
    ("resident doctors’ strikes", ["resident", "doctors", "strikes"]),  # trailing apostrophe
    ("flu ‘wildfire’", ["flu", "wildfire"]),  # curly quotes are not apostrophes
    ("Café naïve résumé", ["cafe", "naive", "resume"]),
    ("ＮＨＳ", ["nhs"]),  # NFKC folds full-width letters
    ("Straße", ["strasse"]),  # case folding, not just lower()
    ("A&E", ["a", "e"]),
    ("2.5 million", ["2", "5", "million"]),
    ("snake_case", ["snake", "case"]),
    ("clinician–patient", ["clinician", "patient"]),
    ("", []),
    ("— … —", []),
])
def test_words_normalise_like_the_issue_says(text: str, expected: list[str]) -> None:
    assert words(text) == expected


# Characters whose handling differs: curly and modifier apostrophes, combining marks (alone,
# after a space, stacked), precomposed letters, Hangul syllables and jamo, ligatures, the
# spaces NFKC folds, separators str.split() takes for whitespace, underscores.
TRICKY = st.sampled_from(list("aZ9 _'\t\n\r’‘ʼ“”…éüßẞİς\u0301\u0308\u0345\u00a0\u2002\u3000"
                              "\x1c\x85\u2028가\u1100\u1161ﬁⅠ😀"))


@settings(max_examples=500)
@given(st.lists(st.one_of(TRICKY, st.characters()), max_size=40).map("".join))
def test_words_are_the_words_of_the_normalised_text(text: str) -> None:
    # ``words`` takes non-ASCII text a token at a time, each remembered; it must give what
    # normalising the whole text and finding its words gives.
    assert words(text) == WORD.findall(normalise(text))


def test_an_item_is_normalised_once_and_shared() -> None:
    item = ItemText("Leadership matters", "summary", ("Workforce",))
    assert document(item) is document(ItemText("Leadership matters", "summary", ("Workforce",)))
    assert document(item).segments["category"] == (("workforce",),)


# ---------------------------------------------------------------- parsing

@pytest.mark.parametrize(("query", "ast"), [
    ("nurse", Term(WordPattern("nurse"))),
    ("Nurse", Term(WordPattern("nurse"))),
    ("leader*", Term(WordPattern("leader", truncated=True))),
    ('"talent management"', Phrase((WordPattern("talent"), WordPattern("management")))),
    ("“talent management”", Phrase((WordPattern("talent"), WordPattern("management")))),
    ("long-term", Phrase((WordPattern("long"), WordPattern("term")))),
    ('"nurs* retention"',
     Phrase((WordPattern("nurs", truncated=True), WordPattern("retention")))),
    ("King’s", Term(WordPattern("kings"))),
    ("a b", And((Term(WordPattern("a")), Term(WordPattern("b"))))),
    ("a AND b", And((Term(WordPattern("a")), Term(WordPattern("b"))))),
    ("a NOT b", And((Term(WordPattern("a")), Not(Term(WordPattern("b")))))),
    ("a AND NOT b", And((Term(WordPattern("a")), Not(Term(WordPattern("b")))))),
    ("a or b", And((Term(WordPattern("a")), Term(WordPattern("or")), Term(WordPattern("b"))))),
])
def test_parse_builds_the_ast(query: str, ast: object) -> None:
    assert parse_query(query).ast == ast


@pytest.mark.parametrize(("query", "reading"), [
    ("a OR b AND c", "a OR (b AND c)"),
    ("a AND b OR c", "(a AND b) OR c"),
    ("a b OR c d", "(a AND b) OR (c AND d)"),
    ("a OR b NOT c", "a OR (b NOT c)"),
    ("a NOT b c", "a NOT b AND c"),
    ("a NOT b NOT c", "a NOT b NOT c"),
    ("(a OR b) c", "(a OR b) AND c"),
    ("a AND (b OR c) NOT (d OR e)", "a AND (b OR c) NOT (d OR e)"),
    ("((a))", "a"),
    ("a OR (b OR c)", "a OR (b OR c)"),
    ("leader* OR \"talent management\"", 'leader* OR "talent management"'),
])
def test_precedence(query: str, reading: str) -> None:
    assert parse_query(query).ast.render() == reading


def test_query_keeps_its_text_and_lists_its_terms() -> None:
    query = parse_query('Leader* OR ("talent management" NOT flu) OR leader*')
    assert query.text == 'Leader* OR ("talent management" NOT flu) OR leader*'
    assert query.terms() == ("leader*", '"talent management"')


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize(("query", "column", "message"), [
    ("", 1, "empty query"),
    ("   ", 1, "empty query"),
    ("leader* OR (talent", 12, "unbalanced parenthesis: this '(' is never closed"),
    ("a (", 3, "unbalanced parenthesis: this '(' is never closed"),
    ("(a OR (b)", 1, "unbalanced parenthesis: this '(' is never closed"),
    ("leader*)", 8, "unbalanced parenthesis: this ')' has no matching '('"),
    (")", 1, "unbalanced parenthesis: this ')' has no matching '('"),
    ('nurse "talent', 7, "unbalanced quote"),
    ('a ""', 3, "empty phrase"),
    ('a " & "', 3, "empty phrase"),
    ("a ()", 3, "empty parentheses"),
    ("nurse AND", 7, "dangling operator: expected a term, phrase or '(' after AND, found the end"),
    ("nurse OR OR b", 7, "dangling operator: expected a term, phrase or '(' after OR, found 'OR'"),
    ("(a OR ) b", 4, "dangling operator: expected a term, phrase or '(' after OR, found ')'"),
    ("nurse NOT", 7, "dangling operator: expected a term, phrase or '(' after NOT"),
    ("OR nurse", 1, "dangling operator: expected a term, phrase or '(' before OR"),
    ("a (AND b)", 4, "dangling operator: expected a term, phrase or '(' before AND"),
    ("a OR NOT b", 3, "NOT joins two things"),
    ("NOT flu", 1, "a query cannot start with NOT"),
    ("a (NOT b)", 4, "a parenthesised group cannot start with NOT"),
    ("le*", 1, "truncation too short"),
    ("nurse ab*", 7, "truncation too short"),
    ("*", 1, "truncation too short"),
    ("leader-*", 1, "truncation too short"),
    ('"talent ma*"', 9, "truncation too short"),
    ("lead*ship", 5, "* is truncation and must end a word"),
    ("&", 1, "'&' has no letters or digits"),
    ("?rganisation", 1, "wildcard at the start of a word"),
    ('"care #olour"', 7, "wildcard at the start of a word"),
    ("nurse-?ed", 7, "wildcard at the start of a word"),
    ("?", 1, "wildcard at the start of a word"),
    ("le?*", 1, "truncation too short"),
    ("a titel:leader*", 3, "unknown field 'titel:'; expected one of title:, summary:, "
                           "category:, source:"),
    ("http://example.org", 1, "unknown field 'http:'"),
    ("title:", 1, "expected a term, phrase or '(' after title:"),
    ("title: AND b", 1, "expected a term, phrase or '(' after title:"),
    ("title:summary:x", 1, "expected a term, phrase or '(' after title:"),
    ("nurse NEAR retention", 7, "NEAR without a distance: write NEAR/n"),
    ("nurse NEAR/ retention", 7, "NEAR without a distance"),
    ("nurse NEAR/x retention", 7, "NEAR without a distance"),
    ("nurse NEAR/3x retention", 7, "NEAR without a distance"),
    ("nurse NEAR/101 retention", 7, "NEAR distance 101 is too large"),
    ("nurse NEAR/3", 7, "dangling operator: expected a term, phrase or '(' after NEAR/3"),
    ("NEAR/3 nurse", 1, "dangling operator: expected a term, phrase or '(' before NEAR/3"),
    ("(a AND b) NEAR/3 c", 1, "NEAR/3 needs a term, truncation, phrase or OR-group on each "
                              "side, not AND or NOT"),
    ("a N3 (b NOT c)", 6, "N3 needs a term, truncation, phrase or OR-group"),
    ("title:a NEAR/3 b", 1, "not a field limit; put a field limit around the whole NEAR"),
    ("(a OR (b c)) NEAR/2 d", 1, "needs a term, truncation, phrase or OR-group"),
    ("(" * 33 + "a" + ")" * 33, 33, "nested too deeply"),
])
def test_every_error_says_what_was_expected_and_where(query: str, column: int,
                                                      message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert caught.value.column == column
    assert message in caught.value.message
    assert caught.value.query == query
    assert str(caught.value).startswith(f"column {column}: ")


def test_nesting_up_to_the_limit_is_fine() -> None:
    assert matches("(" * 32 + "nurse" + ")" * 32, "Nurse of the year")


# ---------------------------------------------------------------- lint

@pytest.mark.parametrize(("query", "warnings"), [
    ("leader* OR (manag* AND culture)", []),
    ('"research and development"', []),
    ("nurse and midwife", ["'and' at column 7 is searched as a word"]),
    ("nurse Or midwife", ["'Or' at column 7 is searched as a word"]),
    ("a OR b AND c", ["AND and OR mixed without parentheses at column 3: this means "
                      "a OR (b AND c)"]),
    ("a b OR c", ["AND and OR mixed without parentheses at column 5"]),
    ("a OR b NOT c", ["AND and OR mixed without parentheses at column 3"]),
    ("(a AND b) OR c", []),
    ("(a OR b OR c) AND d", []),
    ("x AND (a OR b c)", ["AND and OR mixed without parentheses at column 10"]),
])
def test_lint(query: str, warnings: list[str]) -> None:
    found = lint_query(query)
    assert len(found) == len(warnings)
    for warning, expected in zip(found, warnings, strict=True):
        assert warning.startswith(expected)


def test_lint_raises_on_a_query_that_does_not_parse() -> None:
    with pytest.raises(QuerySyntaxError):
        lint_query("a AND")


# ---------------------------------------------------------------- matching

@pytest.mark.parametrize(("query", "title", "expected"), [
    ('"NHS long term plan"', "What the NHS Long-Term Plan means for you", True),
    ('"NHS long term plan"', "A long term plan for the NHS", False),
    ("kings", "The King’s Fund responds", True),
    ('"king’s fund"', "The Kings Fund responds", True),
    ("cafe", "Café culture", True),
    ("résumé", "Resume writing", True),
    ("nurse", "Nurses and nursing", False),
    ("nurs*", "Nurses and nursing", True),
    ("leader*", "England’s leading doctors", False),
    ("leader*", "Leadership matters", True),
    ("flu NOT vaccine*", "Flu admissions rise", True),
    ("flu NOT vaccine*", "Flu vaccines at fire stations", False),
    ("a and b", "A and B", True),
    ("a and b", "A or B", False),
    ("NHS", "nhs", True),
])
def test_match_on_titles(query: str, title: str, expected: bool) -> None:
    assert matches(query, title) is expected


def test_unqualified_terms_search_title_summary_and_categories() -> None:
    query = parse_query("leader*")
    assert query.match(ItemText("x", "Leaders meet")) == (Hit("leader*", "summary", "leaders"),)
    assert query.match(ItemText("x", "", ("Leadership",))) == (
        Hit("leader*", "category", "leadership"),)
    assert query.match(ItemText("x", "", (), source="Leadership Academy")) == ()


def test_a_phrase_does_not_run_across_two_categories() -> None:
    assert not matches('"workforce leadership"', "x", categories=("Workforce", "Leadership"))
    assert matches('"workforce leadership"', "x", categories=("Workforce leadership",))


def test_hits_name_term_field_and_word_in_query_order() -> None:
    item = ItemText("Leadership and talent management",
                    "Leaders need compassionate leadership.")
    hits = parse_query('leader* OR "talent manag*" OR flu').match(item)
    assert hits == (
        Hit("leader*", "title", "leadership"),
        Hit("leader*", "summary", "leaders"),
        Hit("leader*", "summary", "leadership"),
        Hit('"talent manag*"', "title", "talent management"),
    )


def test_a_not_branch_contributes_no_hits() -> None:
    hits = parse_query("leader* NOT flu").match(ItemText("Leadership"))
    assert hits == (Hit("leader*", "title", "leadership"),)


def test_same_term_twice_gives_each_hit_once() -> None:
    hits = parse_query("nurse OR (nurse AND care)").match(ItemText("Nurse care"))
    assert hits == (Hit("nurse", "title", "nurse"), Hit("care", "title", "care"))


# ---------------------------------------------------------------- the documented examples

def _documented_examples(heading: str = "## Examples") -> list[tuple[str, str, str]]:
    text = (DOCS / "search-language.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(.+?)` \| (.+?) \| (.+?) \|$", section, re.MULTILINE)
    return [(query, yes.strip(), no.strip()) for query, yes, no in rows]


def _documented_item(cell: str) -> ItemText:
    """A table cell: a title, or ``title: …; summary: …; category: …; source: …``."""
    if not re.match(r"(title|summary|category|source): ", cell):
        return ItemText(cell)
    parts = dict(part.split(": ", 1) for part in cell.split("; "))
    return ItemText(parts.get("title", ""), parts.get("summary", ""),
                    tuple(filter(None, [parts.get("category", "")])), parts.get("source", ""))


def test_the_documentation_has_examples() -> None:
    assert len(_documented_examples()) >= 30
    assert len(_documented_examples("## UK and US spelling")) >= 5


@pytest.mark.parametrize(("query", "should", "should_not"), _documented_examples())
def test_documented_example(query: str, should: str, should_not: str) -> None:
    parsed = parse_query(query)
    assert parsed.match(_documented_item(should))
    assert not parsed.match(_documented_item(should_not))


@pytest.mark.parametrize(("query", "should", "should_not"),
                         _documented_examples("## UK and US spelling"))
def test_documented_spelling_example(query: str, should: str, should_not: str) -> None:
    assert parse_query(query, spelling="uk-us").match(_documented_item(should))
    assert not parse_query(query, spelling="uk-us").match(_documented_item(should_not))
    assert not parse_query(query).match(_documented_item(should)), "needs the spelling option"


def test_the_documented_spelling_table_is_the_code_table() -> None:
    text = (DOCS / "search-language.md").read_text(encoding="utf-8")
    section = text.split("## UK and US spelling", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([a-z]+) \| ([a-z]+) \|$", section, re.MULTILINE)
    assert tuple(rows) == UK_US


def _documented_errors() -> list[tuple[str, str]]:
    text = (DOCS / "search-language.md").read_text(encoding="utf-8")
    section = text.split("## Errors", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(.+?)` \| (.+?) \|$", section, re.MULTILINE)


@pytest.mark.parametrize(("query", "message"), _documented_errors())
def test_documented_error(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert message in caught.value.message


# ---------------------------------------------------------------- properties

VOCABULARY = ["nurse", "nursing", "leader", "leadership", "care", "plan", "long", "term", "flu"]
LEAVES = ["nurse", "nurs*", "leader*", "care", "plan", '"long term"', '"care plan"', "long-term",
          "flu", '"leader* care"']
OPERATORS = [" AND ", " OR ", " NOT ", " ", " AND NOT "]

queries = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.tuples(inner, st.sampled_from(OPERATORS), inner).map(
        lambda parts: f"({parts[0]}){parts[1]}({parts[2]})"),
    max_leaves=8,
)
items = st.builds(
    ItemText,
    title=st.lists(st.sampled_from(VOCABULARY), max_size=6).map(" ".join),
    summary=st.lists(st.sampled_from([*VOCABULARY, "-", "’s"]), max_size=8).map(" ".join),
    categories=st.lists(st.sampled_from(VOCABULARY), max_size=2).map(tuple),
)


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text_either_parses_or_raises_query_syntax_error(text: str) -> None:
    try:
        parse_query(text)
    except QuerySyntaxError as err:
        assert 1 <= err.column <= len(text) + 1


@settings(max_examples=300)
@given(st.text(alphabet='ab leader ()"“”*?#:&-’ANDORNOTE/3', max_size=40))
def test_query_like_text_either_parses_or_raises_query_syntax_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QuerySyntaxError as err:
        assert 1 <= err.column <= len(text) + 1
    else:
        query.match(ItemText("a leader b", "leadership"))
        lint_query(text)


@given(queries, queries, items)
def test_or_matches_iff_either_side_matches(a: str, b: str, item: ItemText) -> None:
    either = bool(parse_query(a).match(item)) or bool(parse_query(b).match(item))
    assert bool(parse_query(f"({a}) OR ({b})").match(item)) is either


@given(queries, queries, items)
def test_not_matches_iff_left_matches_and_right_does_not(a: str, b: str, item: ItemText) -> None:
    expected = bool(parse_query(a).match(item)) and not parse_query(b).match(item)
    assert bool(parse_query(f"({a}) NOT ({b})").match(item)) is expected


@given(queries, queries, items)
def test_and_matches_iff_both_sides_match(a: str, b: str, item: ItemText) -> None:
    expected = bool(parse_query(a).match(item)) and bool(parse_query(b).match(item))
    assert bool(parse_query(f"({a}) AND ({b})").match(item)) is expected


@given(queries)
def test_rendering_parses_back_to_the_same_ast(text: str) -> None:
    ast = parse_query(text).ast
    assert parse_query(ast.render()).ast == ast


@given(queries, items)
def test_every_hit_is_a_word_of_the_field_it_names(text: str, item: ItemText) -> None:
    fields = {"title": [item.title], "summary": [item.summary], "category": item.categories}
    for hit in parse_query(text).match(item):
        field_words = " ".join(" ".join(words(part)) for part in fields[hit.field])
        assert f" {hit.word} " in f" {field_words} "


@given(items)
def test_a_phrase_match_implies_the_and_of_its_words(item: ItemText) -> None:
    for phrase, conjunction in [('"long term"', "long term"), ('"care plan"', "care plan"),
                                ('"leader* care"', "leader* AND care")]:
        if parse_query(phrase).match(item):
            assert parse_query(conjunction).match(item)
