"""Benchmark: polling N feeds on loopback, beside the bare floor and lemon24/reader in the same run.

Run as ``.venv/bin/python bench/polling.py [--sources N] [--items M]`` (default 200 × 50);
``--peers`` adds lemon24/reader (the ``bench`` extra) and prints a Markdown table;
``--runs K`` runs the whole benchmark K times, each in a fresh interpreter, and prints medians
and ranges; ``--sweep 100,500,1000,2000`` runs each size in a fresh interpreter and prints
its memory and CPU per source; ``--topics N`` replaces the shipped topics with N generated
ones (and varies the items' words, so that they match some items and not others).
A server in a separate process serves N RSS feeds of M items on 127.0.0.1 and counts the
answers it gives (200, 304, 500, and the requests that carried If-None-Match). Cycles:

* cold: every source new (baseline: every item stored);
* steady: ~80% answer 304 to the stored ETag, ~10% send the same body again, 5% have new
  items, 5% fail with 500;
* all 304: every source answers 304 (after one unmeasured cycle that brings the validators
  of the sources that had sent none up to date);
* floor: the same bodies fetched with a plain ``httpx.Client`` and parsed with
  ``feedparser.parse`` alone, in this process, no storage, no guards, no workers.

CPU is this process plus its descendants (the parse workers), read from /proc, minus the
server process; each row also gives this process's own share (fetching, storing, matching),
so the rest is the parse workers'. Peak memory is this process's VmHWM (the service:
polling threads, storage, matching) and, separately, the largest VmHWM of its other
descendants (the parse workers) and the sum of all of
them (the process tree), each since the interpreter started, so each row's figure covers
that cycle and the ones before it.

The reader peer (``--peers``) runs in a fresh interpreter of its own (``--peer-reader``),
so its imports and memory are its own: ``make_reader``, ``add_feed`` for every feed, then,
cycle by cycle while this process waits, ``update_feeds(scheduled=False, workers=8)`` on
the same server in the same feed states as the service's cycle just before it. Its CPU
and peak memory are read from /proc the same way. Nothing leaves the machine.

It is one long file because it runs itself again: for the peer, for ``--runs``, ``--topics``
with several counts and ``--sweep``, each in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection
from functools import partial
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
STATUSES = (200, 304, 500)  # the server counts these, then requests with If-None-Match
READER_WORKERS = 8  # the service's default fetch concurrency
Words = tuple[list[str], list[float]]  # a vocabulary and its cumulative Zipf-like weights


def feed(source: int, items: int, version: int, shape: str = "wordpress",
         words: Words | None = None) -> bytes:
    """An RSS 2.0 feed like NHS England's: excerpts, curly quotes, embargo times.

    ``wordpress`` (the default) adds what WordPress's RSS template writes into every feed: each
    item's author and categories, the namespaces, and the channel's self link, description,
    build date, language, update period and generator. (Comment links come only with comments
    open, the full text only when the site publishes it: neither is here.) ``lean`` has only
    title, link, guid, date and excerpt, the benchmark's feed before; docs/performance.md
    gives both. ``words``: each item's title and excerpt drawn from a vocabulary instead
    (``--topics``), so that generated topics match some items and not others."""
    wordpress = shape == "wordpress"
    titles, excerpts = _texts(source, items, version, words)
    entries = "".join(
        f"<item><title>Source {source} item {n}: {titles[n]}</title>"
        f"<link>https://publisher{source}.example/news/{version}-{n}/</link>"
        + (f"<dc:creator><![CDATA[Publisher {source}]]></dc:creator>"
           f"<category><![CDATA[News]]></category><category><![CDATA[Workforce]]></category>"
           if wordpress else "")
        + f"<guid isPermaLink=\"false\">https://publisher{source}.example/?p={version}{n}</guid>"
        f"<pubDate>Mon, 23 Nov 2026 00:01:00 +0000</pubDate>"
        f"<description><![CDATA[<p>{excerpts[n]} [&#8230;]</p>]]></description>"
        + "</item>" for n in range(items))
    if not wordpress:
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>Publisher {source}</title>{entries}</channel></rss>").encode()
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:atom="http://www.w3.org/2005/Atom" '
            'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" '
            'xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel>'
            f"<title>Publisher {source}</title>"
            f'<atom:link href="https://publisher{source}.example/news/feed/" rel="self" '
            'type="application/rss+xml" />'
            f"<link>https://publisher{source}.example/</link><description>News</description>"
            "<lastBuildDate>Mon, 23 Nov 2026 09:12:44 +0000</lastBuildDate>"
            "<language>en-GB</language><sy:updatePeriod>hourly</sy:updatePeriod>"
            "<sy:updateFrequency>1</sy:updateFrequency>"
            "<generator>https://wordpress.org/?v=6.8.3</generator>"
            f"{entries}</channel></rss>").encode()


def _texts(source: int, items: int, version: int,
           words: Words | None) -> tuple[list[str], list[str]]:
    """Each item's title (after "Source S item N: ") and excerpt."""
    if words is None:
        return (["\u2018leadership\u2019 and workforce news"] * items,
                ["Boards and senior leaders will be supported to build an inclusive culture, "
                 "with new guidance on retention and wellbeing for staff in "
                 f"trust {source} and its partners across the system"] * items)
    vocabulary, weights = words
    rng = random.Random(source * 2 + version)
    return ([escape(" ".join(rng.choices(vocabulary, cum_weights=weights,
                                         k=rng.randint(6, 14)))) for _ in range(items)],
            [escape(" ".join(rng.choices(vocabulary, cum_weights=weights,
                                         k=rng.randint(20, 60)))) for _ in range(items)])


def vocabulary_words() -> list[str]:
    """The words of bench/matching.py: real NHS England news words and an invented tail."""
    from matching import corpus_words

    return corpus_words()


def zipf(vocabulary: list[str]) -> Words:
    """The vocabulary with cumulative weights 1/rank, as bench/matching.py draws its items."""
    total, cumulative = 0.0, []
    for rank in range(len(vocabulary)):
        total += 1 / (rank + 1)
        cumulative.append(total)
    return vocabulary, cumulative


def serve(port_out: Any, sources: int, items: int, state: Any, shape: str, counts: Any,
          varied: bool, body: Callable[[int, int], bytes] | None = None) -> None:
    """The feed server (child process). ``state[i]``: 0 normal, 1 new items (the newer body,
    with its own ETag), 2 failing, 3 same body without validators. ``counts``: answers by
    status (``STATUSES``), then the requests that carried If-None-Match. ``body(source,
    version)``, when given, writes the feeds instead of ``feed``."""
    words = zipf(vocabulary_words()) if varied else None
    make = body or (lambda source, version: feed(source, items, version, shape, words))
    bodies = {i: make(i, 0) for i in range(sources)}
    newer = {i: make(i, 1) for i in range(sources)}
    lock = threading.Lock()

    def count(status: int, conditional: bool) -> None:
        with lock:
            counts[STATUSES.index(status)] += 1
            counts[len(STATUSES)] += conditional

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body in one write: separate small writes meet delayed ACKs (40 ms).
        wbufsize = 1 << 16

        def do_GET(self) -> None:
            source = int(self.path.strip("/").split("/")[-1])
            mode = state[source]
            etag = f'"{source}-{mode}"'
            status = (500 if mode == 2 else 304 if mode in (0, 1)
                      and self.headers.get("If-None-Match") == etag else 200)
            count(status, "If-None-Match" in self.headers)
            if status != 200:
                self.send_response(status)
                if status == 304:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = newer[source] if mode == 1 else bodies[source]
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            if mode != 3:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.send(httpd.server_address[1])
    httpd.serve_forever()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def descendants(exclude: Collection[int]) -> list[int]:
    """This process's live descendants, except the trees of ``exclude`` (the feed server and
    the peer's interpreter)."""
    found, todo = [], _children(os.getpid())
    while todo:
        pid = todo.pop()
        if pid not in exclude:
            found.append(pid)
            todo.extend(_children(pid))
    return found


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one live process; 0 if it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu(exclude: Collection[int]) -> float:
    """CPU seconds of this process and its live descendants, except the trees of ``exclude``."""
    return sum(process_cpu(pid) for pid in [os.getpid(), *descendants(exclude)])


def peak_memory_mib(pid: int | str = "self") -> float:
    """A process's peak resident memory (VmHWM), MiB; 0 if it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if pid == "self" else 0.0


def workers_peak_mib(exclude: Collection[int]) -> float:
    """The largest peak resident memory among the parse workers."""
    return max((peak_memory_mib(pid) for pid in descendants(exclude)), default=0.0)


def tree_peak_mib(exclude: Collection[int]) -> float:
    """The peak resident memory of this process and its descendants, added up (pages shared
    between them counted in each, so an upper bound)."""
    return peak_memory_mib() + sum(peak_memory_mib(pid) for pid in descendants(exclude))


def tree_pss_mib(exclude: Collection[int]) -> float:
    """The proportional set size now (shared pages split between their processes) of this
    process and its descendants, added up: the tree's memory without double counting."""
    total = 0
    for pid in [os.getpid(), *descendants(exclude)]:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in rollup.splitlines()
                     if line.startswith("Pss:"))
    return total / 1024


def make_context(tmp: Path, base: str, sources: int, topics: list[str] | None = None,
                 settings: dict[str, str] | None = None) -> Any:
    """A migrated SQLite context whose sources.toml lists the loopback feeds; the shipped
    topics, or one topic per query in ``topics``; ``settings`` adds or overrides
    ``AWARENESS_*`` variables."""
    from awareness.service.context import create_context
    from awareness.settings import load_settings
    from awareness.storage.db import upgrade

    subs = tmp / "subs"
    if topics is None:
        shutil.copytree(ROOT / "subscriptions" / "topics", subs / "topics")
    else:
        (subs / "topics").mkdir(parents=True)
        for i, query in enumerate(topics):
            (subs / "topics" / f"t{i:05}.toml").write_text(
                f'name = "Topic {i}"\ndescription = "Generated."\n'
                f'query = """\n{query}\n"""\nreview = "none"\n')
    (subs / "sources.toml").write_text("".join(
        f'[[source]]\nid = "s{i}"\nname = "S{i}"\npublisher = "P{i}"\nkind = "feed"\n'
        f'url = "{base}/feed/{i}"\ninterval_minutes = 15\n\n' for i in range(sources)))
    env = {"AWARENESS_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
           "AWARENESS_PATHS_SUBSCRIPTIONS": str(subs),
           "AWARENESS_PATHS_TEMPLATES": str(ROOT / "templates"),
           "AWARENESS_PATHS_DATA": str(tmp / "var"),
           "AWARENESS_MAIL_OUTBOX": str(tmp / "outbox"),
           "AWARENESS_WEB_SECRET_KEY": "bench-secret-key-not-for-production",
           "AWARENESS_FETCH_ALLOWED_HOSTS": "127.0.0.1", **(settings or {})}
    # The schema is made in a process of its own, as `make run` runs `awareness init` before
    # the service; the service's own upgrade then finds it current and imports no Alembic.
    subprocess.run([sys.executable, "-c", "import sys; from awareness.storage.db import "
                    "make_engine, upgrade; upgrade(make_engine(sys.argv[1]))",
                    env["AWARENESS_DATABASE_URL"]], check=True)
    ctx = create_context(load_settings(environ=env, cwd=tmp))
    upgrade(ctx.engine)
    return ctx


def generated_topics(count: int) -> list[str]:
    """``count`` queries made as bench/matching.py makes its profiles, from the same words
    as the varied items."""
    from matching import SEED, content_words, profile_text

    rng, content = random.Random(SEED), content_words(vocabulary_words())
    return [profile_text(rng, content) for _ in range(count)]


def stored_matches(ctx: Any) -> int:
    """How many matches the service has stored so far."""
    from awareness.storage import matches
    from awareness.storage.db import reading

    with reading(ctx.engine) as conn:
        return matches.count(conn)


class Requests:
    """The server's answers by status since this was made."""

    def __init__(self, counts: Any) -> None:
        self.counts = counts
        self.start = list(counts)

    def since(self) -> dict[str, int]:
        now = [b - a for a, b in zip(self.start, self.counts, strict=True)]
        return {**{str(s): n for s, n in zip(STATUSES, now, strict=False)},
                "If-None-Match": now[-1]}


def role(pid: int) -> str:
    """What a descendant is: a parse worker, or another process (its command's first words)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone"
    if b"awareness.sources.worker" in command:
        return "parse worker"
    return command.replace(b"\0", b" ").decode(errors="replace")[:60]


def memory(exclude: Collection[int]) -> tuple[float, float, float, float, list[Any]]:
    """Peak MiB of this process, of its largest child and of the tree, the tree's PSS now,
    and each child's role and peak."""
    return (peak_memory_mib(), workers_peak_mib(exclude), tree_peak_mib(exclude),
            tree_pss_mib(exclude),
            sorted([role(pid), peak_memory_mib(pid)] for pid in descendants(exclude)))


def make_row(label: str, tool: str, sources: int, wall: float, cpu: float, own: float,
             items: int, memory: tuple[float, float, float, float, list[Any]]
             ) -> dict[str, Any]:
    """One cycle's figures and ``memory()``."""
    return {"cycle": label, "tool": tool, "wall_s": wall, "cpu_s": cpu,
            "sources_per_s": sources / wall, "items_per_s": items / wall, "items": items,
            "cpu_ms_per_source": 1000 * cpu / sources,
            "this_process_cpu_ms_per_source": 1000 * own / sources,
            "peak_mib": memory[0], "workers_peak_mib": memory[1], "tree_peak_mib": memory[2],
            "tree_pss_mib": memory[3], "children_peak_mib": memory[4]}


def show(row: dict[str, Any], quiet: bool) -> None:
    """One row as a line (on stderr when the figures go out as JSON)."""
    requests = " ".join(f"{k}:{v}" for k, v in row.get("requests", {}).items())
    matches = f"  matches {row['matches']}" if "matches" in row else ""
    print(f"{row['cycle']:<28} wall {row['wall_s']:7.2f} s  cpu {row['cpu_s']:7.2f} s  "
          f"{row['sources_per_s']:8.1f} sources/s  {row['items_per_s']:9.0f} items/s  "
          f"{row['cpu_ms_per_source']:7.2f} ms CPU/source "
          f"({row['this_process_cpu_ms_per_source']:.2f} in this process)  "
          f"peak {row['peak_mib']:.0f} MiB  workers {row['workers_peak_mib']:.0f} MiB  "
          f"tree {row['tree_peak_mib']:.0f} MiB (PSS now {row['tree_pss_mib']:.0f}; children: "
          + ", ".join(f"{name} {m:.0f}" for name, m in row["children_peak_mib"])
          + f")  {requests}{matches}",
          file=sys.stderr if quiet else sys.stdout, flush=True)


def measure(label: str, exclude: Collection[int], run: Callable[[], int], sources: int,
            quiet: bool = False, counts: Any = None,
            after: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run ``run()`` in this process and report wall time, CPU, throughput and requests."""
    requests = Requests(counts) if counts is not None else None
    cpu, own, wall = tree_cpu(exclude), process_cpu(os.getpid()), time.perf_counter()
    items = run()
    wall, cpu = time.perf_counter() - wall, tree_cpu(exclude) - cpu
    own = process_cpu(os.getpid()) - own  # the rest is the parse workers (and forkserver)
    row = make_row(label, "floor" if label.startswith("floor") else "awareness", sources,
                   wall, cpu, own, items, memory(exclude))
    if requests:
        row["requests"] = requests.since()
    if after:
        after(row)
    show(row, quiet)
    return row


def floor(base: str, sources: int) -> int:
    """httpx fetch + feedparser.parse alone on the same bodies."""
    import feedparser
    import httpx

    count = 0
    with httpx.Client(trust_env=False) as client:
        for i in range(sources):
            response = client.get(f"{base}/feed/{i}")
            if response.status_code == 200:
                count += len(feedparser.parse(response.content).entries)
    return count


def peer_reader(base: str, sources: int) -> None:
    """lemon24/reader on the same feeds (its own interpreter): add every feed, then one
    ``update_feeds`` per line read from stdin, printing its figures as one JSON line."""
    from reader import make_reader

    logging.disable(logging.WARNING)  # the 5% failing feeds would log every cycle
    tmp = Path(tempfile.mkdtemp(prefix="reader-bench-"))
    try:
        reader = make_reader(str(tmp / "reader.sqlite"))
        for i in range(sources):
            reader.add_feed(f"{base}/feed/{i}")
        print("ready", flush=True)
        for line in sys.stdin:
            before = reader.get_entry_counts().total
            cpu, wall = tree_cpu(()), time.perf_counter()
            # scheduled=False: every feed, as the service's cycle polls every source (reader
            # would otherwise wait for each feed's update interval, an hour by default).
            reader.update_feeds(scheduled=False, workers=READER_WORKERS)
            wall, cpu = time.perf_counter() - wall, tree_cpu(()) - cpu
            print(json.dumps(make_row(line.strip(), "reader", sources, wall, cpu, cpu,
                                      (reader.get_entry_counts().total or 0) - (before or 0),
                                      memory(()))), flush=True)
        reader.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class ReaderPeer:
    """The reader peer's interpreter, driven one cycle at a time."""

    def __init__(self, base: str, sources: int, counts: Any) -> None:
        self.counts = counts
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--peer-reader", base, "--sources", str(sources)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout and self.process.stdout.readline().strip() == "ready"

    def cycle(self, label: str, quiet: bool = False, shown: bool = True) -> dict[str, Any]:
        """One ``update_feeds`` in the peer's interpreter, and the requests it made."""
        assert self.process.stdin and self.process.stdout
        requests = Requests(self.counts)
        self.process.stdin.write(label + "\n")
        self.process.stdin.flush()
        row: dict[str, Any] = json.loads(self.process.stdout.readline())
        row["requests"] = requests.since()
        if shown:
            show(row, quiet)
        return row

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def fresh_runs(argv: list[str], runs: int) -> list[list[dict[str, Any]]]:
    """The rows of ``runs`` runs of this benchmark with ``argv``, each in a fresh interpreter."""
    return [json.loads(subprocess.run([sys.executable, __file__, *argv, "--json"], check=True,
                                      stdout=subprocess.PIPE, text=True).stdout)
            for _ in range(runs)]


def figure(runs: list[list[dict[str, Any]]], cycle: str, key: str, digits: int = 1) -> str:
    """One figure over the runs: the median, and the range when there are several runs."""
    values = [row[key] for rows in runs for row in rows if row["cycle"] == cycle]
    middle = f"{statistics.median(values):,.{digits}f}"
    return middle if len(values) == 1 else (
        f"{middle} ({min(values):,.{digits}f}–{max(values):,.{digits}f})")


PEER_ROWS = (("cold", "cold poll"), ("cold", "reader: cold"),
             ("cold", "floor (httpx + feedparser)"), ("steady", "steady-state poll"),
             ("steady", "reader: steady"), ("all 304", "all 304 poll"),
             ("all 304", "reader: all 304"))


def peer_table(runs: list[list[dict[str, Any]]]) -> None:
    """The service, reader and the floor side by side: medians (and ranges) over the runs."""
    print(f"\n{len(runs)} run(s), median (range); {os.cpu_count()} CPUs")
    print("| cycle | tool | wall, s | CPU, s | CPU per source, ms | peak RSS, MiB: process | "
          "largest child | tree | requests (last run) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for cycle, label in PEER_ROWS:
        last = [row for row in runs[-1] if row["cycle"] == label]
        if not last:
            continue
        requests = ", ".join(f"{k} {v}" for k, v in last[0].get("requests", {}).items())
        print(f"| {cycle} | {last[0]['tool']} | {figure(runs, label, 'wall_s')} | "
              f"{figure(runs, label, 'cpu_s')} | "
              f"{figure(runs, label, 'cpu_ms_per_source', 2)} | "
              f"{figure(runs, label, 'peak_mib', 0)} | "
              f"{figure(runs, label, 'workers_peak_mib', 0)} | "
              f"{figure(runs, label, 'tree_peak_mib', 0)} | {requests} |")
    if any("matches" in row for row in runs[-1]):
        print(f"matches stored after the steady state: "
              f"{figure(runs, 'steady-state poll', 'matches', 0)}")


def interleaved(variants: dict[Any, list[str]], runs: int) -> dict[Any, list[list[dict[str, Any]]]]:
    """``runs`` rounds of every variant's arguments, each in a fresh interpreter, one variant
    after the other within a round, so a change in the machine's load falls on all of them."""
    results: dict[Any, list[list[dict[str, Any]]]] = {key: [] for key in variants}
    for _ in range(runs):
        for key, argv in variants.items():
            results[key] += fresh_runs(argv, 1)
    return results


def sweep(sizes: list[int], argv: list[str], runs: int) -> None:
    """Each size in fresh interpreters (peaks never go down): memory and CPU per size."""
    results = interleaved({n: ["--sources", str(n), *argv] for n in sizes}, runs)
    print(f"\npeak RSS, MiB, and CPU per source, ms; {runs} run(s) per size, median (range); "
          f"{os.cpu_count()} CPUs")
    print("| sources | service after cold poll | after steady state | after all 304 | "
          "largest parse worker | tree | cold CPU/source | steady CPU/source | "
          "all-304 CPU/source |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    cycles = ("cold poll", "steady-state poll", "all 304 poll")
    for n, rows in results.items():
        print(f"| {n:,} | "
              + " | ".join(figure(rows, c, "peak_mib", 0) for c in cycles) + " | "
              + figure(rows, "all 304 poll", "workers_peak_mib", 0) + " | "
              + figure(rows, "all 304 poll", "tree_peak_mib", 0) + " | "
              + " | ".join(figure(rows, c, "cpu_ms_per_source", 2) for c in cycles) + " |")


def topic_table(results: dict[str, list[list[dict[str, Any]]]]) -> None:
    """CPU per source of each cycle for each number of generated topics (and reader's, when
    it ran: it has no topics, so its figures say how the run's machine did)."""
    runs = len(next(iter(results.values())))
    cycles = ["cold poll", "steady-state poll", "all 304 poll", "floor (httpx + feedparser)"]
    if any(row["tool"] == "reader" for rows in results.values() for row in rows[0]):
        cycles += ["reader: cold", "reader: steady", "reader: all 304"]
    print(f"\nCPU per source, ms; {runs} run(s) each, median (range); {os.cpu_count()} CPUs")
    print("| topics | matches stored | " + " | ".join(cycles) + " |")
    print("|---:|---:|" + "---:|" * len(cycles))
    for topics, rows in results.items():
        print(f"| {int(topics):,} | {figure(rows, 'steady-state poll', 'matches', 0)} | "
              + " | ".join(figure(rows, c, "cpu_ms_per_source", 2) for c in cycles) + " |")


def steady_mix(state: Any) -> None:
    """80% 304, 10% same body without validators, 5% new items, 5% failing."""
    for i in range(len(state)):
        state[i] = 1 if i % 20 == 0 else 2 if i % 20 == 1 else 3 if i % 10 == 2 else 0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--feed", choices=("wordpress", "lean"), default="wordpress",
                        help="the feed's shape (see feed())")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure the floor and a cold poll (on a fresh database) this "
                             "many times, alternately, and print the median ratio")
    parser.add_argument("--sweep", metavar="N,N,...",
                        help="run each number of sources in a fresh interpreter and print "
                             "their peak memory and CPU per source")
    parser.add_argument("--runs", type=int, default=1,
                        help="run everything this many times, each in a fresh interpreter, "
                             "and print medians and ranges")
    parser.add_argument("--peers", action="store_true",
                        help="also poll the same feeds with lemon24/reader (the bench extra)")
    parser.add_argument("--topics", metavar="N[,N,...]",
                        help="N generated topics instead of the shipped ones (and items "
                             "drawn from a vocabulary); several: each in fresh interpreters, "
                             "alternately, and a table of them")
    parser.add_argument("--profile", metavar="FILE",
                        help="write a cProfile of this process's steady-state cycle to FILE")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON (the lines go to stderr)")
    parser.add_argument("--peer-reader", metavar="BASE", help=argparse.SUPPRESS)
    return parser.parse_args()


def passed_on(args: argparse.Namespace) -> list[str]:
    """The options a fresh interpreter of ``--runs`` or ``--sweep`` gets."""
    argv = ["--items", str(args.items), "--feed", args.feed, "--repeat", str(args.repeat)]
    return argv + (["--peers"] if args.peers else [])


def main() -> None:
    """Run the cycles and print one line each (and a table, with ``--peers`` or ``--runs``)."""
    args = arguments()
    if args.peer_reader:
        peer_reader(args.peer_reader, args.sources)
    elif args.sweep:
        sweep([int(n) for n in args.sweep.split(",")],
              passed_on(args) + (["--topics", args.topics] if args.topics else []), args.runs)
    elif args.topics and "," in args.topics:
        topic_table(interleaved({t: ["--sources", str(args.sources), "--topics", t,
                                     *passed_on(args)] for t in args.topics.split(",")},
                                args.runs))
    elif args.runs > 1 and not args.json:
        peer_table(fresh_runs(["--sources", str(args.sources), *passed_on(args)]
                              + (["--topics", args.topics] if args.topics else []), args.runs))
    else:
        rows = run(args)
        if args.json:
            print(json.dumps(rows))
        elif args.peers or args.topics:
            peer_table([rows])


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One run of every cycle, in this interpreter."""
    n = args.sources
    mp = multiprocessing.get_context("fork")
    state = mp.Array("b", n, lock=False)
    counts = mp.Array("q", len(STATUSES) + 1, lock=False)
    ours, theirs = mp.Pipe()
    server = mp.Process(target=serve, args=(theirs, n, args.items, state, args.feed, counts,
                                            bool(args.topics)), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ours.recv()}"
    assert server.pid is not None
    # Started and set up before anything is measured; it waits while the service works.
    peer = ReaderPeer(base, n, counts) if args.peers else None
    exclude = {server.pid, *([peer.process.pid] if peer else [])}
    topics = generated_topics(int(args.topics)) if args.topics else None

    from awareness.memory import limit_arenas
    from awareness.service import polling

    limit_arenas()  # as the command line does before any command starts its threads
    logging.disable(logging.WARNING)  # the 5% failing sources would log every cycle

    tmp = Path(tempfile.mkdtemp(prefix="awareness-bench-"))
    try:
        ids = [f"s{i}" for i in range(n)]
        out = sys.stderr if args.json else sys.stdout
        print(f"{n} sources x {args.items} items ({args.feed} feed), "
              f"{len(topics) if topics is not None else 'the shipped'} topics, "
              f"{os.cpu_count()} CPUs", file=out)

        def cycle(ctx: Any) -> int:
            return sum(o.new_items for o in polling.poll(ctx, ids))

        def awareness(label: str, ctx: Any, after: Any = None) -> dict[str, Any]:
            return measure(label, exclude, partial(cycle, ctx), n, args.json, counts, after)

        rows, ratios = [], []
        for repeat in range(args.repeat):  # each cold poll on a fresh database
            (tmp / str(repeat)).mkdir()
            ctx = make_context(tmp / str(repeat), base, n, topics)
            rows += [measure("floor (httpx + feedparser)", exclude, lambda: floor(base, n),
                             n, args.json, counts), awareness("cold poll", ctx)]
            ratios.append(rows[-1]["cpu_s"] / rows[-2]["cpu_s"])
        print(f"cold poll CPU / floor CPU: median {statistics.median(ratios):.2f} "
              f"(runs: {', '.join(f'{r:.2f}' for r in ratios)})", file=out, flush=True)
        if peer:
            rows.append(peer.cycle("reader: cold", args.json))
        steady_mix(state)

        def with_matches(row: dict[str, Any]) -> None:
            row["matches"] = stored_matches(ctx)

        rows.append(profiled(args.profile,
                             lambda: awareness("steady-state poll", ctx, with_matches)))
        if peer:
            rows.append(peer.cycle("reader: steady", args.json))
        for i in range(n):  # the sources with new items keep them, the others are unchanged
            state[i] = 1 if state[i] == 1 else 0
        # Settle first: the sources that sent their body without validators answer 200 once
        # more (with an ETag, nothing new) before they can answer 304.
        cycle(ctx)
        if peer:
            peer.cycle("settle", shown=False)
        rows.append(awareness("all 304 poll", ctx))
        if peer:
            rows.append(peer.cycle("reader: all 304", args.json))
            peer.close()
        return rows
    finally:
        server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def profiled(path: str | None, function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``function()``, under cProfile in every thread of this process (polling threads:
    fetching, storing, matching) when ``path`` is given, each thread timed by its own CPU
    clock, so waiting for a lock or a parse worker counts nothing; the parse workers are not
    profiled, and the cycle's figures are then the profiler's, not the service's."""
    if path is None:
        return function()
    import cProfile
    import pstats

    profiles: list[cProfile.Profile] = []

    def start(*_: Any) -> None:  # the first event in a new thread: profile it from here on
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()

    main_profile = cProfile.Profile(time.thread_time)
    threading.setprofile(start)
    main_profile.enable()
    try:
        return function()
    finally:
        main_profile.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        stats = pstats.Stats(main_profile)
        for profile in profiles:
            profile.create_stats()
            stats.add(profile)
        stats.dump_stats(path)


if __name__ == "__main__":
    main()
