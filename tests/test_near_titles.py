"""Near-identical titles through an index: the same answers as the scan (issue 11).

Stories used to compare a new title with every recent title of a similar length. The index
(``sources/near_titles.py``) looks only at titles holding enough of its rarest bigrams; these
tests hold it to the scan: no story missed, none extra. Pure core, no database.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher

from hypothesis import given, settings
from hypothesis import strategies as st

from awareness.sources.identity import (
    MIN_FUZZY_TITLE,
    TITLE_SIMILARITY,
    KnownItem,
    StoryIndex,
    bigrams,
    could_be_near,
    could_be_similar,
    find_story,
    least_shared,
    title_key,
)
from awareness.sources.near_titles import NearTitles, allowed_lengths, at_least

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_the_bound_never_rejects_what_the_float_bound_accepted() -> None:
    # could_be_similar used to compare 2 * (shared + 1 + total) with 3 * 0.92 * total in
    # floating point; least_shared computes the same bound exactly, a hair lower so that
    # difflib's own rounding can never put a ratio of 0.92 under it.
    for total in range(2 * MIN_FUZZY_TITLE, 3_000):
        before = next(shared for shared in range(total)
                      if 2 * (shared + 1 + total) >= 3 * TITLE_SIMILARITY * total)
        assert least_shared(total) in (before, before - 1)
    assert least_shared(150) == 56  # 0.38 × 150 − 1, where 2.76 × 150 rounded up asked 57


def test_allowed_lengths_are_the_lengths_could_be_near_allows() -> None:
    for length in range(MIN_FUZZY_TITLE, 400):
        shortest, longest = allowed_lengths(length)
        allowed = [other for other in range(1, 600) if could_be_near(length, other)]
        assert allowed == list(range(shortest, longest + 1))


@given(st.lists(st.integers(0, 2**70), max_size=12), st.integers(1, 14))
def test_at_least_counts_every_bit(sets: list[int], times: int) -> None:
    expected = 0
    for bit in range(71):
        if sum(s >> bit & 1 for s in sets) >= times:
            expected |= 1 << bit
    assert at_least(times, sets) == expected


@st.composite
def _variant(draw: st.DrawFn, base: str) -> str:
    """``base`` with a few characters replaced, dropped, added or moved: near, or just not."""
    title = list(base)
    for _ in range(draw(st.integers(0, 5))):
        at = draw(st.integers(0, len(title)))
        title[at:at + draw(st.integers(0, 2))] = draw(st.sampled_from(
            ["", "a", "x", " ", "e ", "the ", "-", "É"]))
    return "".join(title)


# Few letters, so that unrelated titles share many bigrams and near-identical ones are
# common: the bound, not luck, must keep the answers equal.
_BASE = st.text(alphabet="abcde fgh", min_size=MIN_FUZZY_TITLE - 3, max_size=70)
_TITLES = _BASE.flatmap(lambda base: st.lists(
    st.one_of(_variant(base), _BASE), min_size=1, max_size=14))


def _scan(key: str, stored: dict[int, str]) -> set[int]:
    """What the scan's bounds let through: an allowed length and enough shared bigrams."""
    mine = bigrams(key)
    return {handle for handle, other in stored.items()
            if len(key) >= MIN_FUZZY_TITLE and could_be_near(len(key), len(other))
            and could_be_similar(mine, bigrams(other), len(key) + len(other))}


@settings(max_examples=200, deadline=None)
@given(_TITLES, st.lists(st.integers(0, 13), max_size=6))
def test_the_index_lets_through_exactly_what_the_scan_does(titles: list[str],
                                                           removed: list[int]) -> None:
    keys = [title_key(title) for title in titles]
    index: NearTitles[int] = NearTitles()
    stored = {}
    for handle, key in enumerate(keys[1:], start=1):
        if len(key) >= MIN_FUZZY_TITLE:
            index.add(handle, key, handle)
            stored[handle] = key
    for handle in removed:  # keys come and go as a run goes on
        if handle in stored:
            index.remove(handle)
            del stored[handle]
    assert len(index) == len(stored)
    for key in keys:
        assert set(index.near(key)) == _scan(key, stored)


@settings(max_examples=200, deadline=None)
@given(_TITLES, st.lists(st.integers(0, 10), min_size=14, max_size=14))
def test_stories_through_the_index_are_the_stories_of_the_scan(titles: list[str],
                                                                days: list[int]) -> None:
    # What stories.candidates does with the recent titles: the index's candidates, most
    # recently seen first, then StoryIndex; find_story over every recent item must agree.
    mine, *recent = [KnownItem(id=n + 1, key=f"k{n}", link=None, title=title, summary_text="",
                               story_id=None if n % 3 else 1_000 + n,
                               published=NOW - timedelta(days=days[n]))
                     for n, title in enumerate(titles)]
    index: NearTitles[KnownItem] = NearTitles()
    for other in recent:
        if len(title_key(other.title)) >= MIN_FUZZY_TITLE:
            index.add(other.id, title_key(other.title), other)
    found = {other.id for other in index.near(title_key(mine.title))}
    exact = [other for other in recent if title_key(other.title) == title_key(mine.title)]
    candidates = [other for other in recent if other.id in found or other in exact]
    assert StoryIndex(candidates).find(mine) == find_story(mine, recent)


@settings(max_examples=200, deadline=None)
@given(_BASE.flatmap(lambda base: st.tuples(_variant(base), _variant(base))))
def test_a_difflib_ratio_of_0_92_shares_least_shared_bigrams(pair: tuple[str, str]) -> None:
    a, b = pair
    ratio = SequenceMatcher(None, a, b, autojunk=False).ratio()
    if ratio >= TITLE_SIMILARITY:
        assert len(bigrams(a) & bigrams(b)) >= least_shared(len(a) + len(b))


def test_an_index_of_thousands_of_titles_finds_the_near_identical_one() -> None:
    words = ["nhs", "workforce", "plan", "retention", "senior", "nursing", "staff", "winter",
             "discharge", "delays", "maternity", "review", "independent", "findings", "cancer",
             "diagnosis", "urgent", "care"]
    rng = random.Random(11)
    titles = {n: " ".join(rng.choices(words, k=rng.randint(6, 12))) for n in range(3_000)}
    index: NearTitles[int] = NearTitles()
    for n, title in titles.items():
        index.add(n, title, n)
    for n in range(0, 3_000, 2):  # half of them leave, and their slots are used again
        index.remove(n)
        del titles[n]
    for n in range(3_000, 3_500):
        titles[n] = " ".join(rng.choices(words, k=rng.randint(6, 12)))
        index.add(n, titles[n], n)
    near = titles[1_235].replace("e", "é", 1)  # one character changed
    assert 1_235 in index.near(near)
    assert set(index.near(near)) == _scan(near, titles)


def test_a_title_sharing_exactly_the_bound_is_found_and_one_fewer_is_not() -> None:
    # Titles of distinct characters share only the bigrams left unchanged. Changing a few
    # at random, then one at a time from the end (one bigram fewer each time), walks the
    # count down through the bound, where an off-by-one would show.
    rng = random.Random(7)
    letters = [chr(code) for code in range(0x4E00, 0x4E00 + 2_000)]  # all distinct
    for length in (25, 40, 73, 120):
        stored = "".join(rng.sample(letters, length))
        index: NearTitles[str] = NearTitles()
        index.add(1, stored, stored)
        need = least_shared(2 * length)
        title, fresh = list(stored), iter(letters[length:])
        for _ in range((length - 1 - need) // 4):
            title[rng.randrange(1, length // 2)] = next(fresh)
        seen = set()
        for end in range(length - 1, 0, -1):
            shared = len(bigrams("".join(title)) & bigrams(stored))
            seen.add(shared)
            assert (stored in index.near("".join(title))) == (shared >= need), (length, shared)
            title[end] = next(fresh)
        assert {need, need - 1} <= seen


def test_a_bounded_lookup_gives_the_latest_it_keeps() -> None:
    # Hundreds of identical titles (one release syndicated everywhere): a bounded lookup
    # gives the most recently added first, only those ``keep`` accepts, and no more.
    key = title_key("NHS England publishes the leadership competency framework")
    index: NearTitles[int] = NearTitles()
    for handle in range(300):
        index.add(handle, key, handle)
    assert index.near(key) == list(range(299, -1, -1))
    assert index.near(key, limit=50) == list(range(299, 249, -1))
    assert index.near(key, keep=lambda handle: handle % 7 == 0, limit=3) == [294, 287, 280]
