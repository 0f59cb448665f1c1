"""The presearch index finds exactly what evaluating every profile finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from awareness.model import ItemText
from awareness.topics.explain import explain
from awareness.topics.presearch import (
    Presearch,
    anchors,
    cached_index,
    naive_match,
    word_lookup,
)
from awareness.topics.query import parse_query
from awareness.topics.text import ItemWords, WordPattern, document, source_segment

LEAVES = ["nurse", "nurs*", "leader*", "care", '"long term"', "lo#ng", "c?re", "title:plan",
          "summary:care", "(nurse OR care) NEAR/1 plan", "flu N2 care", "source:kings",
          "organis*", "colour", "wom?n*", '"care plan*"']
OPERATORS = [" AND ", " OR ", " NOT ", " "]
VOCABULARY = ["nurse", "nursing", "leader", "leadership", "care", "cure", "plan", "plans",
              "long", "lonng", "term", "flu", "organization", "color", "women", "kings"]
queries = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.tuples(inner, st.sampled_from(OPERATORS), inner).map(
        lambda parts: f"({parts[0]}){parts[1]}({parts[2]})"),
    max_leaves=5,
)
texts = st.lists(st.sampled_from(VOCABULARY), max_size=6).map(" ".join)
items = st.builds(ItemText, title=texts, summary=texts,
                  categories=st.lists(texts, max_size=2).map(tuple), source=texts)
profiles = st.lists(st.tuples(queries, st.sampled_from(["none", "uk-us"])), min_size=1,
                    max_size=12)


@settings(max_examples=300)
@given(profiles, st.lists(items, min_size=1, max_size=5))
def test_presearch_agrees_with_evaluating_every_profile(
        written: list[tuple[str, str]], batch: list[ItemText]) -> None:
    parsed = [(index, parse_query(text, spelling)) for index, (text, spelling)
              in enumerate(written)]
    index = Presearch.build(parsed)
    for item in batch:
        assert index.match(item) == naive_match(parsed, item)


def test_anchors_choose_the_most_selective_operand() -> None:
    assert anchors(parse_query("nurs* AND retention NOT flu").ast) == {WordPattern("retention")}
    assert anchors(parse_query('"talent management"').ast) in (
        {WordPattern("talent")}, {WordPattern("management")})
    assert anchors(parse_query("a OR bbb* OR (c d)").ast) == {
        WordPattern("a"), WordPattern("bbb", truncated=True), WordPattern("c")}


def test_only_candidate_profiles_are_evaluated() -> None:
    index = Presearch.build([("nurse", parse_query("nurse* NEAR/3 retention")),
                             ("flu", parse_query("flu NOT vaccine*")),
                             ("lead", parse_query("leader* OR organi?ation"))])
    doc = document(ItemText("Flu season", "The organisation prepares"))
    assert index.candidates(doc) == {"flu", "lead"}
    assert set(index.match_document(doc)) == {"flu", "lead"}


def test_compiled_profiles_and_the_index_are_reused_until_a_profile_changes() -> None:
    assert parse_query("leader* OR nurse") is parse_query("leader* OR nurse")
    assert parse_query("colour") is not parse_query("colour", "uk-us")
    profiles = (("a", parse_query("leader*")), ("b", parse_query("nurse")))
    index = cached_index(profiles)
    assert cached_index((("a", parse_query("leader*")), ("b", parse_query("nurse")))) is index
    edited = cached_index((("a", parse_query("leader* OR boards")), ("b", parse_query("nurse"))))
    assert edited is not index
    assert set(edited.match(ItemText("Boards"))) == {"a"}


@settings(max_examples=100)
@given(queries, st.sampled_from(["none", "uk-us"]), items)
def test_stored_words_and_their_lookup_match_as_the_text_does(text: str, spelling: str,
                                                              item: ItemText) -> None:
    # What a dry run over stored words relies on: the document rebuilt from the stored
    # columns matches exactly as the text's, and every match holds a word of the lookup.
    query = parse_query(text, spelling)
    doc = document(item)
    assert ItemWords.of_text(item) == ItemWords.of(doc)  # a first poll's, without a document
    stored = ItemWords.from_columns(*ItemWords.of(doc).columns())
    rebuilt = stored.document(source_segment(*item.source.partition(" ")[::2]))
    hits = query.match_document(doc)
    assert query.match_document(rebuilt) == hits
    assert query.score(rebuilt, hits) == query.score(item, hits)
    assert explain(query, rebuilt) == explain(query, item)
    lookup = word_lookup(query)
    if hits and lookup is not None:
        assert any(lookup.could_hold(word) for word in doc.all_words)
