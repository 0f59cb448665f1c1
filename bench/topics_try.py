"""Benchmark: the "try a query" page (``/topics/try``) over a growing archive.

Run as ``.venv/bin/python bench/topics_try.py [--sizes 2500,5000,10000,20000] [--repeat K]``.
Not timed: a migrated SQLite database whose archive grows through the sizes (items stored by
``polling._store`` as a first poll stores them, 50 a source, all first seen today so the
page's default 30 days covers them all), and one librarian signed in. At each size, ``--repeat``
times, alternately:

* floor: ``topics.text.document`` (uncached) of every stored item, once — what any matcher
  that reads the archive's words must at least do;
* the service function the page calls, ``service.topics.try_query`` (with the page's limit of
  100 shown), for three queries: a selective one (about 1% of items), a broad one (about a
  third), and one that matches nothing;
* one real request, ``GET /topics/try?q=…``, through the Starlette app (Starlette's
  ``TestClient``, entered once so that its requests share one event loop as a server's do:
  the app, its middleware, the session check, the template), for each query.

Items are synthetic, from the words of real NHS England news (``bench/matching.py``'s
vocabulary, Zipf-like). The queries are chosen from the archive's own word frequencies, so
they select the same share at every size. CPU is this process's user + system time
(``resource.getrusage``: the request's worker thread included). ``--profile`` prints the top
costs of one broad call at the largest size. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from matching import corpus_words
from pipeline import BASE, item_texts, parse_all, store_all
from polling import make_context

PER_SOURCE = 50
SHOWN = 100  # the page's limit (web/topics.py)
SINCE = timedelta(days=30)
REAL_WORDS = 1500
PASSWORD = "bench-password-not-for-production"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def choose_queries(texts: list[tuple[str, str]], real: set[str]) -> dict[str, str]:
    """A selective, a broad and an empty query of ``real`` words, from the items' document
    frequencies."""
    from awareness.topics.text import words

    frequency: Counter[str] = Counter()
    for title, summary in texts:
        frequency.update(set(words(f"{title} {summary}")))
    content = [(w, n / len(texts)) for w, n in frequency.items()
               if len(w) > 4 and w.isalpha() and w in real]

    def near(share: float, skip: int = 0) -> str:
        return sorted(content, key=lambda pair: (abs(pair[1] - share), pair[0]))[skip][0]

    return {"selective": f'"{near(0.005)} {near(0.02)}" OR {near(0.005, 1)} OR {near(0.004)}',
            "broad": f"{near(0.15)[:5]}* OR ({near(0.2)} AND NOT {near(0.01)})",
            "nothing": '"no such phrase" OR zzqxjv*'}


def floor(ctx: Any) -> tuple[float, int]:
    """CPU seconds of tokenising every stored item once, and how many there are."""
    from awareness.storage import items
    from awareness.storage.db import reading
    from awareness.topics.text import document

    with reading(ctx.engine) as conn:
        texts = [item.candidate.text for item in items.since(conn, ctx.now() - SINCE)]
    start = cpu()
    for text in texts:
        document.__wrapped__(text)
    return cpu() - start, len(texts)


def service(ctx: Any, query: str) -> tuple[float, int]:
    """CPU seconds of one ``try_query`` call, and the matches it found."""
    from awareness.service.topics import try_query
    from awareness.topics.query import parse_query

    start = cpu()
    result = try_query(ctx, parse_query(query), SINCE, limit=SHOWN)
    seconds = cpu() - start
    return seconds, sum(matched for matched, _ in result.per_source.values())


def signed_in(ctx: Any) -> Any:
    """A TestClient for the app, signed in as a librarian."""
    with warnings.catch_warnings():  # Starlette's note about httpx's successor
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from awareness.service.librarians import add_librarian
    from awareness.web.app import create_app

    add_librarian(ctx, "bench", PASSWORD)
    client = TestClient(create_app(ctx), base_url=ctx.settings.base_url)
    # Entered, the client keeps one event loop for every request, as a server does; otherwise
    # it starts a thread and an event loop for each request (~30 ms of CPU at 10,000 items
    # that no server spends).
    client.__enter__()
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, "no CSRF token on the login page"
    response = client.post("/login", data={"name": "bench", "password": PASSWORD,
                                           "csrf": csrf[1], "next": ""}, follow_redirects=False)
    assert response.status_code == 303, response.status_code
    return client


def request(client: Any, query: str) -> float:
    """CPU seconds of one GET /topics/try?q=… (the client's side included)."""
    start = cpu()
    response = client.get("/topics/try", params={"q": query, "since": "30d"})
    seconds = cpu() - start
    assert response.status_code == 200, response.status_code
    return seconds


def cell(values: list[float], digits: int = 1) -> str:
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}–{max(values):.{digits}f})")


def measure(ctx: Any, client: Any, queries: dict[str, str], repeat: int) -> dict[str, Any]:
    """At one size: the floor and every query, ``repeat`` times, alternately."""
    figures: dict[str, list[float]] = {"floor": []}
    found: dict[str, int] = {}
    count = 0
    for _ in range(repeat):
        seconds, count = floor(ctx)
        figures["floor"].append(seconds)
        for name, text in queries.items():
            seconds, found[name] = service(ctx, text)
            figures.setdefault(name, []).append(seconds)
            figures.setdefault(f"{name} page", []).append(request(client, text))
    return {"items": count, "found": found, "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2500,5000,10000,20000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true",
                        help="also profile one broad call at the largest size (to stderr)")
    args = parser.parse_args()
    from awareness.service import polling

    sizes = [int(s) for s in args.sizes.split(",")]
    sources = -(-max(sizes) // PER_SOURCE)
    rng = random.Random(11)
    vocabulary = corpus_words()
    texts = item_texts(vocabulary, 1, sources * PER_SOURCE, rng, marked=0.0,
                       leadership=False)
    # corpus_words puts the words of real items first; the rest is an invented long tail.
    queries = choose_queries(texts, set(vocabulary[:REAL_WORDS]))
    for name, text in queries.items():
        print(f"{name} query: {text}")
    tmp = Path(tempfile.mkdtemp(prefix="awareness-bench-"))
    try:
        ctx = make_context(tmp, BASE, sources)
        polling.sync_sources(ctx)
        client = signed_in(ctx)
        run = polling.PollRun(polling.item_matcher(ctx, []), polling.stories.RecentTitles())
        stored, rows = 0, []
        for size in sizes:
            first, count = stored // PER_SOURCE, -(-size // PER_SOURCE) - stored // PER_SOURCE
            now = datetime.now(UTC)
            store_all(ctx, parse_all(count, texts[stored:], 0, PER_SOURCE, now, first), run,
                      first)
            stored = (first + count) * PER_SOURCE
            row = measure(ctx, client, queries, args.repeat)
            rows.append(row)
            f = row["figures"]
            print(f"{row['items']:>6,} items  floor {1000 * statistics.median(f['floor']):.1f} ms"
                  + "".join(f"  {name} {1000 * statistics.median(f[name]):.1f} ms "
                            f"(page {1000 * statistics.median(f[name + ' page']):.1f}, "
                            f"{row['found'][name]:,} matches)" for name in queries), flush=True)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(service, ctx, queries["broad"])
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        client.__exit__(None, None, None)
        ctx.engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\nCPU per call, ms: median (range) of", args.repeat, "runs")
    print("| items | floor (tokenise once) | " + " | ".join(
        f"{name} | {name}: page | {name}: matches" for name in queries) + " |")
    print("|---:|---:|" + "---:|---:|---:|" * len(queries))
    for row in rows:
        f = row["figures"]
        ms = {k: [1000 * v for v in values] for k, values in f.items()}
        print(f"| {row['items']:,} | {cell(ms['floor'])} | " + " | ".join(
            f"{cell(ms[name])} | {cell(ms[name + ' page'])} | {row['found'][name]:,}"
            for name in queries) + " |")


if __name__ == "__main__":
    main()
