"""Benchmark: storing a cold poll's items, beside a plain sqlite3 floor measured in the same run.

Run as ``.venv/bin/python bench/storing.py [--sources N] [--items M] [--repeat K]``.
The feeds of ``bench/polling.py`` are parsed first (not timed). Then, per source, in this
process, alternately for ``--repeat`` rounds, each on a fresh copy of the migrated database:

* service: what a poll does once the parse is back (``polling._store``): the source's state,
  the identity index, the batched insert of the new items, the source's update, the commit;
* floor: the same rows, already converted to what SQLite stores, written with the standard
  library's ``sqlite3``: ``BEGIN IMMEDIATE``, one ``executemany`` into ``items``, one
  ``UPDATE`` of the source, ``COMMIT``; same schema, WAL and foreign keys.

CPU is this process's user and system time (``resource.getrusage``). The polling benchmark
says how this part weighs in a whole poll; this one isolates it, so a change to storing can
be measured without the noise of fetching and parsing. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from polling import feed, make_context

BASE = "http://127.0.0.1:9"  # never fetched: the bodies are parsed here


def cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def stored_form(value: Any) -> Any:
    """A value as SQLAlchemy hands it to SQLite for these columns."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    if isinstance(value, bool):
        return int(value)
    return value


def service(template: Path, work: Path, sources: int, parsed: list[Any]) -> tuple[float, float]:
    """CPU seconds (user, system) of ``polling._store`` for every source."""
    from awareness.model import ParsedFeed
    from awareness.service import polling
    from awareness.sources.fetch import FetchResult, Validators
    from awareness.storage import sources as stored_sources
    from awareness.storage.db import reading

    shutil.copy(template / "bench.db", work / "bench.db")
    ctx = make_context(work, BASE, sources)
    run = polling.PollRun(polling.item_matcher(ctx), polling.stories.RecentTitles())
    with reading(ctx.engine) as conn:
        states = stored_sources.states(conn, [f"s{i}" for i in range(len(parsed))])
    result = FetchResult("ok", BASE, b"", "application/rss+xml", Validators('"e"', None), 200)
    before = cpu()
    for i, items in enumerate(parsed):
        polling._store(ctx, states[f"s{i}"], result, f"hash{i}", ParsedFeed(tuple(items)), [],
                       set(), run, None)
    after = cpu()
    ctx.engine.dispose()
    return after[0] - before[0], after[1] - before[1]


def floor(template: Path, work: Path, rows: list[list[dict[str, Any]]]) -> tuple[float, float]:
    """CPU seconds (user, system) of writing the same rows with plain sqlite3."""
    shutil.copy(template / "bench.db", work / "bench.db")
    db = sqlite3.connect(work / "bench.db", isolation_level=None)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA journal_mode=WAL")
    columns = list(rows[0][0])
    insert = (f"INSERT INTO items ({', '.join(columns)}) VALUES "
              f"({', '.join('?' * len(columns))}) ON CONFLICT DO NOTHING")
    values = [[tuple(stored_form(row[c]) for c in columns) for row in source] for source in rows]
    before = cpu()
    for i, source in enumerate(values):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(insert, source)
        db.execute("UPDATE sources SET etag = ?, baseline_done = 1 WHERE id = ?", ('"e"', f"s{i}"))
        db.execute("COMMIT")
    after = cpu()
    db.close()
    return after[0] - before[0], after[1] - before[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from awareness.service import polling
    from awareness.sources.decide import store_intent
    from awareness.sources.parse import parse_feed
    from awareness.storage import items as stored_items

    n, now = args.sources, datetime.now(UTC)
    parsed = [parse_feed(feed(i, args.items, 0), url=f"{BASE}/feed/{i}", content_type=None,
                         now=now).items for i in range(n)]
    names = stored_items._ALL_COLUMNS
    rows = [[dict(zip(names, row, strict=True)) for row in stored_items._rows(
        f"s{i}", store_intent(items, [], set(), now=now, baseline=True).new, now, True)]
        for i, items in enumerate(parsed)]
    tmp = Path(tempfile.mkdtemp(prefix="awareness-bench-"))
    try:
        template = tmp / "template"  # migrated, with the sources, and no items
        template.mkdir()
        ctx = make_context(template, BASE, n)
        polling.sync_sources(ctx)
        ctx.engine.dispose()  # the last connection closing checkpoints the WAL into the file
        print(f"{n} sources x {args.items} items (wordpress feed), stored one source at a time")
        ratios = []
        for run in range(args.repeat):
            work = tmp / str(run)
            (work / "floor").mkdir(parents=True)
            (work / "service").mkdir()
            plain = floor(template, work / "floor", rows)
            ours = service(template, work / "service", n, parsed)
            ratios.append(sum(ours) / sum(plain))
            for label, (user, system) in (("floor (sqlite3)", plain), ("service", ours)):
                print(f"{label:<16} {1000 * (user + system) / n:6.2f} ms CPU/source "
                      f"(user {1000 * user / n:.2f}, system {1000 * system / n:.2f})")
        print(f"service / floor: median {statistics.median(ratios):.2f} "
              f"(runs: {', '.join(f'{r:.2f}' for r in ratios)})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
