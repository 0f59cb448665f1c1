"""NEAR by positions, and the per-item matching budget (issue 11).

NEAR used to pair every occurrence of one side with every occurrence of the other, so its cost
grew with hits² × distance: a valid ``(nurse* OR midwi*) NEAR/100 (retention OR retain*)`` took
73 s on 500 wordy items. It now finds partners by binary search. What a match *is* must not
change: the words it reports are exactly those the pairwise version reported.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awareness.matching import Candidate, ItemMatcher
from awareness.model import ItemText
from awareness.subscriptions import Topic
from awareness.topics.nodes import Near, Positional, Span
from awareness.topics.query import parse_query
from awareness.topics.text import DEFAULT_BUDGET, OverBudget, document

# Many spellings, so that two occurrences rarely report the same word and a missed one shows.
WORDS = ["nurse", "nurses", "nursed", "nursing", "midwife", "retention", "retain", "retained",
         "retaining", "retains", "pay", "the", "of"]


def pairwise(node: Positional, segment: tuple[str, ...]) -> list[Span]:
    """The old NEAR, kept here as the reference: every pair of occurrences close enough."""
    if not isinstance(node, Near):
        return node.spans(segment)
    rights = pairwise(node.right, segment)
    found: list[Span] = []
    for left in pairwise(node.left, segment):
        for right in rights:
            first, second = (left, right) if left[0] <= right[0] else (right, left)
            if 0 <= second[0] - first[1] - 1 <= node.distance:
                found.append((first[0], max(first[1], second[1]), first[2] + second[2]))
    return found


def near_of(text: str) -> Near:
    node = parse_query(text).ast
    assert isinstance(node, Near)
    return node


@settings(max_examples=300, deadline=None)
@given(segment=st.lists(st.sampled_from(WORDS), max_size=60).map(tuple),
       distance=st.integers(min_value=0, max_value=8),
       left=st.sampled_from(["nurse*", "(nurse* OR midwife)", '"the nurse"', "pay"]),
       right=st.sampled_from(["retain*", "(retention OR pay)", '"of retention"', "nurses"]))
def test_near_finds_the_same_words_as_every_pair_did(segment, distance, left, right):
    near = near_of(f"{left} NEAR/{distance} {right}")
    expected = {run for span in pairwise(near, segment) for run in span[2]}
    found = near.spans(segment)
    assert {run for span in found for run in span[2]} == expected
    assert bool(found) == bool(expected)
    for span in found:  # every span it gives is one the pairwise version gave
        assert span in pairwise(near, segment)


def test_near_spans_grow_with_the_hits_not_with_their_pairs():
    # 600 "nurse" and 600 "retention", all within 100 words of each other: 360,000 pairs.
    segment = tuple(["nurse", "retention"] * 600)
    near = near_of("nurse NEAR/100 retention")
    assert len(pairwise(near, segment)) > 50_000
    assert len(near.spans(segment)) <= 2 * 1200  # one partner each side, at most


@settings(max_examples=500, deadline=None)
@given(segment=st.lists(st.sampled_from(["a", "b", "c", "x"]), max_size=24).map(tuple),
       outer=st.integers(min_value=0, max_value=4), inner=st.integers(min_value=0, max_value=6),
       form=st.sampled_from(["a NEAR/{o} (b NEAR/{i} c)", "(b NEAR/{i} c) NEAR/{o} a",
                             '"a x" NEAR/{o} (b NEAR/{i} "c x")']))
def test_a_near_inside_a_near_matches_where_every_pair_did(segment, outer, inner, form):
    near = near_of(form.format(o=outer, i=inner))
    assert bool(near.spans(segment)) == bool(pairwise(near, segment))


def test_a_nested_near_measures_from_the_inner_span():
    near = near_of("nurse NEAR/2 (retention NEAR/1 pay)")
    assert near.spans(("nurse", "the", "retention", "of", "pay"))
    assert not near.spans(("nurse", "a", "b", "c", "retention", "of", "pay"))


def item(summary: str) -> ItemText:
    return ItemText(title="Workforce", summary=summary, categories=(), source="NHS England")


def test_a_document_within_its_budget_matches_as_an_unmetered_one_does():
    query = parse_query("(nurse* OR midwi*) NEAR/100 (retention OR retain*)")
    doc = document(item("Nurses told us what would help retention. " * 50))
    assert query.match_document(doc.metered(DEFAULT_BUDGET)) == query.match_document(doc)


def test_matching_past_the_budget_stops_and_says_so():
    query = parse_query("(nurse* OR midwi*) NEAR/100 (retention OR retain*)")
    doc = document(item("Nurses told us what would help retention. " * 500))  # 3,500 words
    with pytest.raises(OverBudget):
        query.match_document(doc.metered(10_000))  # 4 leaves × 3,500 words each
    assert query.match_document(doc.metered(20_000))  # the metered copy's spending is its own
    assert doc.budget is None  # and the shared document is never metered


def topic(slug: str, query: str) -> Topic:
    return Topic(slug=slug, name=slug, description="", query=parse_query(query), review="none")


def candidate(summary: str) -> Candidate:
    return Candidate(item(summary), source_id="s", publisher="P", link=None, published=None)


def test_the_budget_is_per_item_across_every_topic():
    topics = [topic(f"t{n}", "nurse* NEAR/100 retention") for n in range(5)]
    matcher = ItemMatcher(topics, [], budget=5_000)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    short = candidate("Nurses told us what would help retention. " * 10)  # 70 words
    wordy = candidate("Nurses told us what would help retention. " * 200)  # 1,400 words
    assert len(matcher.match(short, now)) == 5  # 5 topics × 2 leaves × 70 words: within
    with pytest.raises(OverBudget):  # 5 × 2 × 1,400: one topic fits, all five do not
        matcher.match(wordy, now)
    assert len(ItemMatcher(topics, []).match(wordy, now)) == 5  # the default lets it through
