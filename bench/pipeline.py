"""Benchmark: what a poll does with new items once the parse is back, matching included.

Run as ``.venv/bin/python bench/pipeline.py [--sources N] [--items M] [--topics T,T]
[--repeat K]`` (default 200 sources × 50 new items, 10 and 1,000 topics, 3 runs). Each run is
a fresh interpreter, so no cache of an earlier run helps a later one. Not timed: a migrated
SQLite database with the sources, the driver records of the seed page
(``tests/data/map-toolkit-leadership-tag-page.txt``) imported as ``awareness drivers import``
does, a baseline poll of every source (so the measured poll is past it: its items are
matched, joined into stories and linked), and the new items' feeds parsed with
``parse_feed``. Then, in this order, in the same process:

* floor, tokenising: ``topics.text.document`` (uncached) of every new item, the least any
  matcher must do to look at the words;
* floor, storing: the same items' rows, converted beforehand, written with the standard
  library's ``sqlite3`` one source at a time (``bench/storing.py``'s floor), on a copy of the
  same database;
* service: ``polling._store`` for every source, with one ``PollRun`` for the run (topics and
  driver records prepared once, as ``polling.poll`` does): decide, match and link (outside
  the transaction), then one write of the items, their stories, matches and driver links.
  The matcher is wrapped to count the CPU it takes, so the rest is storing.

Items are synthetic, from the words of real NHS England news (``bench/matching.py``'s
vocabulary, Zipf-like); topics are ``bench/matching.py``'s generated profiles, each OR-ed
with a word of its own that 90% of items carry one of (so most items match at least one
topic), with ``driver_tags = ["Leadership"]``. Half of the summaries carry a sentence about
leadership and retention, so those items link to the seed's drivers. CPU is this process's
user + system time (``resource.getrusage``). Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from matching import corpus_words, make_profiles
from polling import ROOT, make_context
from storing import floor as sqlite_floor

BASE = "http://127.0.0.1:9"  # never fetched: the bodies are parsed here
SEED = ROOT / "tests" / "data" / "map-toolkit-leadership-tag-page.txt"
LEADERSHIP = ("Boards and senior leaders will be supported to build an inclusive culture, "
              "with new guidance on leadership, retention and wellbeing for staff.")
SEED_NUMBER = 11


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def marker(topic: int) -> str:
    """A word only topic ``topic`` asks for (and the items meant to match it carry)."""
    return f"theme{topic:05d}"


def make_topics(count: int, vocabulary: list[str], rng: random.Random) -> list[Any]:
    from awareness.subscriptions import Topic
    from awareness.topics.query import parse_query

    return [Topic(slug=f"t{k:05d}", name=f"Topic {k}", description="generated",
                  query=parse_query(f"({profile.text}) OR {marker(k)}"), review="none",
                  driver_tags=("Leadership",))
            for k, profile in enumerate(make_profiles(count, vocabulary, rng))]


def item_texts(vocabulary: list[str], topics: int, n: int, rng: random.Random,
               marked: float = 0.9, leadership: bool = True) -> list[tuple[str, str]]:
    """(title, summary) pairs: Zipf-like words; a ``marked`` share name one topic's own word;
    with ``leadership``, half carry the leadership sentence."""
    cumulative, total = [], 0.0
    for rank in range(len(vocabulary)):
        total += 1 / (rank + 1)
        cumulative.append(total)
    out = []
    for index in range(n):
        title = rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(6, 14))
        if rng.random() < marked:
            title.insert(rng.randrange(len(title) + 1), marker(rng.randrange(topics)))
        summary = " ".join(rng.choices(vocabulary, cum_weights=cumulative,
                                       k=rng.randint(20, 60)))
        if leadership and index % 2:
            summary = f"{LEADERSHIP} {summary}"
        out.append((" ".join(title), summary))
    return out


def feed_body(source: int, version: int, texts: list[tuple[str, str]]) -> bytes:
    """An RSS 2.0 feed of ``texts`` in the shape of ``bench/polling.py``'s WordPress feed."""
    entries = "".join(
        f"<item><title>{title}</title>"
        f"<link>https://publisher{source}.example/news/{version}-{n}/</link>"
        f"<category><![CDATA[News]]></category><category><![CDATA[Workforce]]></category>"
        f'<guid isPermaLink="false">https://publisher{source}.example/?p={version}{n}</guid>'
        f"<pubDate>Mon, 23 Nov 2026 00:01:00 +0000</pubDate>"
        f"<description><![CDATA[<p>{summary} [&#8230;]</p>]]></description></item>"
        for n, (title, summary) in enumerate(texts))
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Publisher {source}</title>{entries}</channel></rss>").encode()


@dataclass
class TimedMatcher:
    """The run's matcher, counting its CPU and what it found."""

    inner: Any
    seconds: float = 0.0
    links_seconds: float = 0.0
    matches: int = 0
    links: int = 0

    def match(self, item: Any, now: datetime) -> Any:
        start = time.process_time()
        found = self.inner.match(item, now)
        self.seconds += time.process_time() - start
        self.matches += len(found)
        self.links += sum(len(m.links) for m in found)
        return found


def parse_all(sources: int, texts: list[tuple[str, str]], version: int, per: int,
              now: datetime, first: int = 0) -> list[Any]:
    """Parse the feeds of ``sources`` sources (``s<first>`` onwards) of ``per`` items each."""
    from awareness.sources.parse import parse_feed

    return [parse_feed(feed_body(i, version, texts[(i - first) * per:(i - first + 1) * per]),
                       url=f"{BASE}/feed/{i}", now=now) for i in range(first, first + sources)]


def store_all(ctx: Any, feeds: list[Any], run: Any, first: int = 0) -> None:
    """``polling._store`` for every source (``s<first>`` onwards), as a poll does once each
    parse is back."""
    from awareness.service import polling
    from awareness.sources.fetch import FetchResult, Validators
    from awareness.storage import items
    from awareness.storage import sources as stored_sources
    from awareness.storage.db import reading

    ids = [f"s{first + i}" for i in range(len(feeds))]
    with reading(ctx.engine) as conn:
        states = stored_sources.states(conn, ids)
        stored = {i: (items.stored_entries(conn, i), items.tombstones(conn, i)) for i in ids}
    result = FetchResult("ok", BASE, b"", "application/rss+xml", Validators('"e"', None), 200)
    for i, parsed in enumerate(feeds):
        polling._store(ctx, states[ids[i]], result, f"hash{first + i}", parsed, *stored[ids[i]],
                       run, None)


def prepare(tmp: Path, args: argparse.Namespace, topics: int) -> tuple[Any, list[Any], Any]:
    """The template database (migrated, drivers imported, baseline stored), the new items'
    parsed feeds and the topics."""
    from awareness.service import polling
    from awareness.service.drivers import import_paths

    rng = random.Random(SEED_NUMBER)
    vocabulary = corpus_words()
    generated = make_topics(topics, vocabulary, rng)
    n, per = args.sources, args.items
    now = datetime.now(UTC)
    texts = item_texts(vocabulary, topics, 2 * n * per, rng)
    baseline = parse_all(n, texts[:n * per], 0, per, now - timedelta(hours=1))
    new = parse_all(n, texts[n * per:], 1, per, now)
    template = tmp / "template"
    template.mkdir()
    ctx = make_context(template, BASE, n)
    polling.sync_sources(ctx)
    import_paths(ctx, [SEED], changed_by="bench")
    store_all(ctx, baseline, polling.PollRun(polling.item_matcher(ctx, generated),
                                              polling.stories.RecentTitles()))
    ctx.engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return template, new, generated


def floor_rows(new: list[Any]) -> list[list[dict[str, Any]]]:
    """The new items' rows as the service would insert them (not a baseline)."""
    from awareness.sources.decide import store_intent
    from awareness.storage import items as stored_items

    now = datetime.now(UTC)
    names = stored_items._ALL_COLUMNS
    return [[dict(zip(names, row, strict=True)) for row in stored_items._rows(
        f"s{i}", store_intent(parsed.items, [], set(), now=now, baseline=False).new, now,
        False)] for i, parsed in enumerate(new)]


def tokenise_floor(new: list[Any]) -> float:
    """CPU seconds of tokenising every new item's text as the matcher sees it."""
    from awareness.model import ItemText
    from awareness.topics.text import document

    texts = [ItemText(item.title, item.summary_text, item.categories, f"P{i} s{i}")
             for i, parsed in enumerate(new) for item in parsed.items]
    start = cpu()
    for text in texts:
        document.__wrapped__(text)
    return cpu() - start


def time_stories() -> list[float]:
    """Count the CPU of joining new items into stories (``storage.stories.join``)."""
    from awareness.storage import stories

    spent = [0.0]
    join = stories.join

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return join(*args, **kwargs)
        finally:
            spent[0] += time.process_time() - start

    stories.join = timed
    return spent


def once(args: argparse.Namespace, topics: int) -> dict[str, Any]:
    """One run in this interpreter: the two floors, then the service."""
    from awareness.service import polling

    tmp = Path(tempfile.mkdtemp(prefix="awareness-bench-"))
    try:
        template, new, generated = prepare(tmp, args, topics)
        count = sum(len(parsed.items) for parsed in new)
        tokens = tokenise_floor(new)
        (tmp / "floor").mkdir()
        plain = sum(sqlite_floor(template, tmp / "floor", floor_rows(new)))
        (tmp / "service").mkdir()
        shutil.copy(template / "bench.db", tmp / "service" / "bench.db")
        ctx = make_context(tmp / "service", BASE, args.sources)
        stories = time_stories()
        start = cpu()
        matcher = TimedMatcher(polling.item_matcher(ctx, generated))
        run = polling.PollRun(matcher, polling.stories.RecentTitles())
        prepared = cpu() - start
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(store_all, ctx, new, run)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        else:
            store_all(ctx, new, run)
        service = cpu() - start
        ctx.engine.dispose()
        return {"topics": topics, "items": count, "tokenise": tokens, "sqlite": plain,
                "service": service, "prepare": prepared, "matching": matcher.seconds,
                "stories": stories[0], "matches": matcher.matches, "links": matcher.links}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(rows: list[dict[str, Any]]) -> None:
    """One line per run, then the medians and ranges."""
    def ms(row: dict[str, Any], key: str) -> float:
        return 1000 * row[key] / row["items"]

    for row in rows:
        print(f"{row['topics']:>6,} topics  service {ms(row, 'service'):.3f} ms/item "
              f"(matching {ms(row, 'matching'):.3f}, stories "
              f"{ms(row, 'stories'):.3f}, the rest of storing "
              f"{ms(row, 'service') - ms(row, 'matching') - ms(row, 'stories'):.3f}, "
              f"preparing the topics "
              f"{ms(row, 'prepare'):.3f})  floor: tokenise {ms(row, 'tokenise'):.3f} + sqlite3 "
              f"{ms(row, 'sqlite'):.3f}  matches/item {row['matches'] / row['items']:.2f}  "
              f"links/item {row['links'] / row['items']:.2f}", flush=True)
    print("\n| topics | service, CPU per item | matching | stories | the rest of storing "
          "| floor (tokenise + sqlite3) | × floor | matches per item | driver links per item |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for topics in sorted({row["topics"] for row in rows}):
        mine = [row for row in rows if row["topics"] == topics]

        def cell(values: list[float], digits: int = 3) -> str:
            return (f"{statistics.median(values):.{digits}f} "
                    f"({min(values):.{digits}f}–{max(values):.{digits}f})")

        service = [ms(r, "service") for r in mine]
        matching = [ms(r, "matching") for r in mine]
        joining = [ms(r, "stories") for r in mine]
        storing = [s - m - j for s, m, j in zip(service, matching, joining, strict=True)]
        floor = [ms(r, "tokenise") + ms(r, "sqlite") for r in mine]
        ratio = [s / f for s, f in zip(service, floor, strict=True)]
        print(f"| {topics:,} | {cell(service)} ms | {cell(matching)} ms | {cell(joining)} ms | "
              f"{cell(storing)} ms | "
              f"{cell(floor)} ms | {cell(ratio, 1)} | "
              f"{statistics.median(r['matches'] / r['items'] for r in mine):.2f} | "
              f"{statistics.median(r['links'] / r['items'] for r in mine):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--items", type=int, default=50, help="new items per source")
    parser.add_argument("--topics", default="10,1000", help="numbers of topics, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, metavar="T",
                        help="one run with T topics under cProfile; the top costs to stderr")
    parser.add_argument("--once", type=int, metavar="T", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once is not None or args.profile is not None:
        print(json.dumps(once(args, args.once if args.once is not None else args.profile)))
        return
    print(f"{args.sources} sources x {args.items} new items; each run a fresh interpreter",
          flush=True)
    rows = []
    for _ in range(args.repeat):  # alternately, so a change in the machine's load hits both
        for topics in (int(t) for t in args.topics.split(",")):
            done = subprocess.run([sys.executable, __file__, "--sources", str(args.sources),
                                   "--items", str(args.items), "--once", str(topics)],
                                  check=True, stdout=subprocess.PIPE, text=True)
            rows.append(json.loads(done.stdout))
    report(rows)


if __name__ == "__main__":
    main()
