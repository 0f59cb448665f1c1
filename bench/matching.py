"""Benchmark: matching 10,000 items against 10 … 10,000 topic profiles.

Run as ``.venv/bin/python bench/matching.py``. Prints, for each number of profiles, the time
to match every item with the presearch index (tokenising included) beside the floor measured in
the same run (tokenising the 10,000 items alone) and beside the naive baseline (evaluate every
profile on every item; timed on a sample of items and scaled, because at 10,000 profiles it
would take far too long). Items are synthetic but built from the words of real NHS England
news items (tests/data), with a Zipf-like word distribution; profiles mix terms, phrases,
truncation, NEAR, NOT and OR-groups. Nothing touches the network.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from awareness.model import ItemText
from awareness.topics.presearch import Presearch
from awareness.topics.query import Query, parse_query
from awareness.topics.text import Document, document, words

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
ITEMS = 10_000
PROFILE_COUNTS = (10, 100, 1_000, 10_000)
NAIVE_SAMPLE = 200
VOCABULARY = 30_000
SEED = 4


def corpus_words() -> list[str]:
    """Distinct words of the real items, most frequent first."""
    feed = json.loads((DATA / "nhs-england-news-feed-poll-snapshots-2025-10_2026-01.json")
                      .read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    for snapshot in feed["snapshots"]:
        for item in snapshot["items"]:
            for word in words(item["title"] + " " + item["description"]):
                counts[word] = counts.get(word, 0) + 1
    toolkit = (DATA / "map-toolkit-leadership-tag-page.txt").read_text(encoding="utf-8")
    for word in words(toolkit):
        counts[word] = counts.get(word, 0) + 1
    real = sorted(counts, key=lambda w: (-counts[w], w))
    # A year of news uses tens of thousands of distinct words; the sample has fewer than 2,000.
    # Invent the long tail from real word halves, so profiles are not all about common words.
    rng = random.Random(SEED)
    heads = [w[:len(w) // 2 + 1] for w in real if len(w) > 3]
    tails = [w[len(w) // 2:] for w in real if len(w) > 3]
    tail = sorted({rng.choice(heads) + rng.choice(tails) for _ in range(VOCABULARY)} - set(real))
    rng.shuffle(tail)
    return real + tail


def make_items(vocabulary: list[str], rng: random.Random) -> list[ItemText]:
    """Items whose words follow a Zipf-like distribution over the vocabulary."""
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    items = []
    for index in range(ITEMS):
        title = " ".join(rng.choices(vocabulary, weights, k=rng.randint(6, 14)))
        summary = " ".join(rng.choices(vocabulary, weights, k=rng.randint(20, 60)))
        items.append(ItemText(f"{title} {index}", summary, ("News",), "NHS England nhs"))
    return items


def profile_text(rng: random.Random, content: list[str]) -> str:
    """One profile like librarians write: OR-groups of terms, phrases and truncations, with
    NEAR, AND or NOT. ``content``: the words to draw from (see ``content_words``)."""

    def leaf() -> str:
        kind = rng.random()
        word = rng.choice(content)
        if kind < 0.25:
            return word[:max(4, len(word) - 2)] + "*"
        if kind < 0.45:
            return f'"{word} {rng.choice(content)}"'
        return word

    group = " OR ".join(leaf() for _ in range(rng.randint(2, 6)))
    shape = rng.random()
    if shape < 0.3:
        return f"({group}) NEAR/5 ({leaf()} OR {leaf()})"
    if shape < 0.6:
        return f"({group}) AND ({leaf()} OR {leaf()}) NOT {leaf()}"
    return f"({group}) NOT {leaf()}"


def content_words(vocabulary: list[str]) -> list[str]:
    """The vocabulary without its 150 commonest words and without short or odd tokens."""
    return [w for w in vocabulary[150:] if len(w) > 3 and w.isalpha()]


def make_profiles(count: int, vocabulary: list[str], rng: random.Random) -> list[Query]:
    """Profiles like librarians write: OR-groups of terms and phrases, NEAR, NOT."""
    content = content_words(vocabulary)
    return [parse_query(profile_text(rng, content)) for _ in range(count)]


def tokenise(item: ItemText) -> Document:
    """``document`` without its cache, so every run pays for tokenising."""
    return document.__wrapped__(item)


def timed(function: object) -> float:
    """Seconds taken by ``function()``."""
    start = time.perf_counter()
    function()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    rng = random.Random(SEED)
    vocabulary = corpus_words()
    items = make_items(vocabulary, rng)
    floor = min(timed(lambda: [tokenise(item) for item in items]) for _ in range(3))
    print(f"{ITEMS} items, vocabulary {len(vocabulary)} words; floor (tokenising) {floor:.2f} s")
    print("| profiles | index build | presearch match | × floor | matches | candidates/item "
          "| naive (scaled) |")
    print("|---|---|---|---|---|---|---|")
    for count in PROFILE_COUNTS:
        profiles = make_profiles(count, vocabulary, rng)
        keyed = list(enumerate(profiles))
        build = timed(lambda: Presearch.build(keyed))  # noqa: B023
        index = Presearch.build(keyed)
        found = [0]

        def run() -> None:
            for item in items:
                found[0] += len(index.match_document(tokenise(item)))  # noqa: B023

        seconds = timed(run)
        candidates = sum(len(index.candidates(document(item))) for item in items)
        sample = items[:NAIVE_SAMPLE]
        def run_naive() -> None:
            for item in sample:  # noqa: B023
                doc = tokenise(item)
                for query in profiles:  # noqa: B023
                    query.match_document(doc)

        naive = timed(run_naive) * ITEMS / NAIVE_SAMPLE
        print(f"| {count:,} | {build:.2f} s | {seconds:.2f} s | {seconds / floor:.1f} | "
              f"{found[0]:,} | {candidates / ITEMS:.1f} | {naive:.1f} s |")


if __name__ == "__main__":
    main()
