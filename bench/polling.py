"""Benchmark: polling N feeds on loopback, beside the bare floor measured in the same run.

Run as ``.venv/bin/python bench/polling.py [--sources N] [--items M]`` (default 200 × 50),
or ``--sweep 100,500,1000,2000`` for the memory of each size, each in a fresh interpreter.
A server in a separate process serves N RSS feeds of M items on 127.0.0.1. Three cycles:

* cold: every source new (baseline: every item stored);
* steady: ~80% answer 304 to the stored ETag, ~10% send the same body again, 5% have new
  items, 5% fail with 500;
* floor: the same bodies fetched with a plain ``httpx.Client`` and parsed with
  ``feedparser.parse`` alone, in this process, no storage, no guards, no workers.

CPU is this process plus its descendants (the parse workers), read from /proc, minus the
server process; each row also gives this process's own share (fetching, storing, matching),
so the rest is the parse workers'. Peak memory is this process's VmHWM (the service:
polling threads, storage, matching) and, separately, the largest VmHWM of its other
descendants (the parse workers and the forkserver that starts them), both since the
interpreter started, so each row's figure covers that cycle and the ones before it.
Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def feed(source: int, items: int, version: int, shape: str = "wordpress") -> bytes:
    """An RSS 2.0 feed like NHS England's: excerpts, curly quotes, embargo times.

    ``wordpress`` (the default) adds what WordPress's RSS template writes into every feed: each
    item's author and categories, the namespaces, and the channel's self link, description,
    build date, language, update period and generator. (Comment links come only with comments
    open, the full text only when the site publishes it: neither is here.) ``lean`` has only
    title, link, guid, date and excerpt, the benchmark's feed before; docs/performance.md
    gives both."""
    wordpress = shape == "wordpress"
    entries = "".join(
        f"<item><title>Source {source} item {n}: \u2018leadership\u2019 and workforce news</title>"
        f"<link>https://publisher{source}.example/news/{version}-{n}/</link>"
        + (f"<dc:creator><![CDATA[Publisher {source}]]></dc:creator>"
           f"<category><![CDATA[News]]></category><category><![CDATA[Workforce]]></category>"
           if wordpress else "")
        + f"<guid isPermaLink=\"false\">https://publisher{source}.example/?p={version}{n}</guid>"
        f"<pubDate>Mon, 23 Nov 2026 00:01:00 +0000</pubDate>"
        f"<description><![CDATA[<p>Boards and senior leaders will be supported to build an "
        f"inclusive culture, with new guidance on retention and wellbeing for staff in "
        f"trust {source} and its partners across the system [&#8230;]</p>]]></description>"
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


def serve(port_out: Any, sources: int, items: int, state: Any, shape: str,
          body: Callable[[int, int], bytes] | None = None) -> None:
    """The feed server (child process). ``state[i]``: 0 normal, 1 new items, 2 failing,
    3 same body without validators. ``body(source, version)``, when given, writes the
    feeds instead of ``feed``."""
    make = body or (lambda source, version: feed(source, items, version, shape))
    bodies = {i: make(i, 0) for i in range(sources)}
    newer = {i: make(i, 1) for i in range(sources)}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body in one write: separate small writes meet delayed ACKs (40 ms).
        wbufsize = 1 << 16

        def do_GET(self) -> None:
            source = int(self.path.strip("/").split("/")[-1])
            mode = state[source]
            if mode == 2:
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = newer[source] if mode == 1 else bodies[source]
            etag = f'"{source}-{mode}"'
            if mode == 0 and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
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


def descendants(exclude: int) -> list[int]:
    """This process's live descendants, except ``exclude``'s tree (the feed server)."""
    found, todo = [], _children(os.getpid())
    while todo:
        pid = todo.pop()
        if pid != exclude:
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


def tree_cpu(exclude: int) -> float:
    """CPU seconds of this process and its live descendants, except ``exclude``'s tree."""
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


def workers_peak_mib(exclude: int) -> float:
    """The largest peak resident memory among the parse workers (and their forkserver)."""
    return max((peak_memory_mib(pid) for pid in descendants(exclude)), default=0.0)


def make_context(tmp: Path, base: str, sources: int,
                 settings: dict[str, str] | None = None) -> Any:
    """A migrated SQLite context whose sources.toml lists the loopback feeds; ``settings``
    adds or overrides ``AWARENESS_*`` variables."""
    from awareness.service.context import create_context
    from awareness.settings import load_settings
    from awareness.storage.db import upgrade

    subs = tmp / "subs"
    shutil.copytree(ROOT / "subscriptions" / "topics", subs / "topics")
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
    ctx = create_context(load_settings(environ=env, cwd=tmp))
    upgrade(ctx.engine)
    return ctx


def measure(label: str, server_pid: int, run: Any, sources: int,
            quiet: bool = False) -> dict[str, Any]:
    """Run ``run()`` and report wall time, CPU and throughput."""
    cpu, own, wall = tree_cpu(server_pid), process_cpu(os.getpid()), time.perf_counter()
    items = run()
    wall, cpu = time.perf_counter() - wall, tree_cpu(server_pid) - cpu
    own = process_cpu(os.getpid()) - own  # the rest is the parse workers (and forkserver)
    row = {"cycle": label, "wall_s": wall, "cpu_s": cpu, "sources_per_s": sources / wall,
           "items_per_s": items / wall, "cpu_ms_per_source": 1000 * cpu / sources,
           "this_process_cpu_ms_per_source": 1000 * own / sources,
           "peak_mib": peak_memory_mib(), "workers_peak_mib": workers_peak_mib(server_pid)}
    print(f"{label:<28} wall {wall:7.2f} s  cpu {cpu:7.2f} s  {sources / wall:8.1f} sources/s  "
          f"{items / wall:9.0f} items/s  {1000 * cpu / sources:7.2f} ms CPU/source "
          f"({1000 * own / sources:.2f} in this process)  "
          f"peak {row['peak_mib']:.0f} MiB  workers {row['workers_peak_mib']:.0f} MiB",
          file=sys.stderr if quiet else sys.stdout, flush=True)
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


def sweep(sizes: list[int], items: int, shape: str) -> None:
    """Each size in a fresh interpreter (peaks never go down), then one memory line per size."""
    rows = {}
    for n in sizes:
        done = subprocess.run([sys.executable, __file__, "--sources", str(n), "--items",
                               str(items), "--feed", shape, "--json"], check=True,
                              stdout=subprocess.PIPE, text=True)
        rows[n] = {row["cycle"]: row for row in json.loads(done.stdout)}
    print(f"\npeak RSS, MiB ({items} items per feed, {os.cpu_count()} CPUs)")
    print("| sources | service after cold poll | service after steady state | "
          "service after all 304 | largest parse worker |")
    print("|---:|---:|---:|---:|---:|")
    for n, cycles in rows.items():
        service = [cycles[c]["peak_mib"] for c in ("cold poll", "steady-state poll",
                                                   "all 304 poll")]
        print(f"| {n:,} | " + " | ".join(f"{m:.0f}" for m in service)
              + f" | {cycles['all 304 poll']['workers_peak_mib']:.0f} |")


def main() -> None:
    """Run the three cycles and print one line each."""
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
                             "their peak memory")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON (the lines go to stderr)")
    args = parser.parse_args()
    if args.sweep:
        sweep([int(n) for n in args.sweep.split(",")], args.items, args.feed)
        return
    n = args.sources
    mp = multiprocessing.get_context("fork")
    state = mp.Array("b", n, lock=False)
    ours, theirs = mp.Pipe()
    server = mp.Process(target=serve, args=(theirs, n, args.items, state, args.feed), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ours.recv()}"
    assert server.pid is not None

    from awareness.service import polling

    logging.disable(logging.WARNING)  # the 5% failing sources would log every cycle

    tmp = Path(tempfile.mkdtemp(prefix="awareness-bench-"))
    try:
        ids = [f"s{i}" for i in range(n)]
        out = sys.stderr if args.json else sys.stdout
        print(f"{n} sources x {args.items} items ({args.feed} feed), {os.cpu_count()} CPUs",
              file=out)

        def cycle(ctx: Any) -> int:
            return sum(o.new_items for o in polling.poll(ctx, ids))

        rows, ratios = [], []
        for run in range(args.repeat):  # each cold poll on a fresh database
            (tmp / str(run)).mkdir()
            ctx = make_context(tmp / str(run), base, n)
            rows += [measure("floor (httpx + feedparser)", server.pid, lambda: floor(base, n),
                             n, args.json),
                     measure("cold poll", server.pid, partial(cycle, ctx), n, args.json)]
            ratios.append(rows[-1]["cpu_s"] / rows[-2]["cpu_s"])
        print(f"cold poll CPU / floor CPU: median {statistics.median(ratios):.2f} "
              f"(runs: {', '.join(f'{r:.2f}' for r in ratios)})", file=out, flush=True)
        for i in range(n):  # 80% 304, 10% same body, 5% new items, 5% failing
            state[i] = 1 if i % 20 == 0 else 2 if i % 20 == 1 else 3 if i % 10 == 2 else 0
        rows.append(measure("steady-state poll", server.pid, partial(cycle, ctx), n, args.json))
        for i in range(n):
            state[i] = 0
        # Settle first: the sources that had new items hold the newer body's ETag, and answer
        # 200 with the older body once (parsed, nothing new) before they can answer 304.
        cycle(ctx)
        rows.append(measure("all 304 poll", server.pid, partial(cycle, ctx), n, args.json))
        if args.json:
            print(json.dumps(rows))
    finally:
        server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
