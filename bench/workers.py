"""Benchmark: sources polled a minute, and digests sent a second, by 1, 2 and 4 worker
processes through the job queue.

Run as ``AWARENESS_TEST_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/workers.py
[--what polls,digests] [--sources N] [--items M] [--subscribers S] [--workers 1,2,4]``.
For each worker count, a fresh schema in that database, migrated, with the queue's tables;
feeds served on 127.0.0.1 by a server in this process; K ``awareness run --role worker``
processes started and waited for. Then, timed:

* ``polls`` (default 300 sources × 20 items): every source's ``poll_source`` job enqueued at
  once (the leader's work at a poll time); the clock runs until every source's poll is
  written. Each poll is a cold one (a new source: every item stored, as a baseline).
* ``digests`` (default 2,000 subscribers): not timed, one source polled twice in this
  process (a baseline, then 20 new items, every one matching the one topic, which
  needs no review) and S daily subscribers of that topic; timed, the digests enqueued as
  the leader does at a digest time (``build_digests`` jobs, one per shard) until every
  digest is in the outbox ("built") and until the ``relay`` jobs have sent every one to an
  aiosmtpd server on 127.0.0.1 in a separate process that accepts and discards them
  ("sent"). ``mail.send_rate`` is lifted, so the figure is the service's, not the rate limit's.

The schema is dropped afterwards. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digests import free_port, smtp_server  # the digest benchmark's discarding SMTP server
from polling import feed  # the polling benchmark's NHS England-like feed

from awareness.mail.outbox import DIGEST
from awareness.queue import JobQueue, ensure_schema
from awareness.service import polling as poll_service
from awareness.service.context import Context, create_context
from awareness.settings import load_settings
from awareness.storage import outbox, sources, subscribers
from awareness.storage.db import reading, upgrade, writing

ROOT = Path(__file__).resolve().parents[1]
DIGEST_SOURCES = 1
TOPIC = 'name = "Leadership"\ndescription = "Leadership news."\nquery = "leader*"\n' \
        'review = "none"\n'


class Feeds:
    """Feeds on 127.0.0.1: ``/n`` is source n's feed, at ``version`` (0, then new items)."""

    def __init__(self, sources: int, items: int):
        self.version = 0
        bodies = {(f"/{n}", v): feed(n, items, v) for n in range(sources) for v in (0, 1)}
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = bodies[self.path, feeds.version]
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]


def sources_toml(count: int, port: int) -> str:
    return "".join(f'[[source]]\nid = "s{n}"\nname = "Source {n}"\npublisher = '
                   f'"Publisher {n}"\nkind = "feed"\nurl = "http://127.0.0.1:{port}/{n}"\n\n'
                   for n in range(count))


def polled(ctx: Context) -> int:
    with reading(ctx.engine) as connection:
        return sources.polled_count(connection)


def digests_out(ctx: Context) -> dict[str, int]:
    with reading(ctx.engine) as connection:
        return outbox.count_by_status(connection, DIGEST)


@contextmanager
def deployment(base_url: str, feeds: Feeds, source_count: int, workers: int,
               **settings: str) -> Iterator[tuple[Context, JobQueue, Any]]:
    """A schema of its own with ``source_count`` sources; ``start()`` starts the workers."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = f"{base_url}{'&' if '?' in base_url else '?'}options=-csearch_path%3D{schema}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            (tmp / "subscriptions" / "topics").mkdir(parents=True)
            (tmp / "subscriptions" / "topics" / "leadership.toml").write_text(TOPIC)
            (tmp / "subscriptions" / "sources.toml").write_text(
                sources_toml(source_count, feeds.port))
            env = {"AWARENESS_DATABASE_URL": url, "AWARENESS_QUEUE_ENABLED": "true",
                   "AWARENESS_PATHS_SUBSCRIPTIONS": str(tmp / "subscriptions"),
                   "AWARENESS_PATHS_TEMPLATES": str(ROOT / "templates"),
                   "AWARENESS_PATHS_DATA": str(tmp / "var"),
                   "AWARENESS_FETCH_ALLOWED_HOSTS": "127.0.0.1",
                   "AWARENESS_WEB_SECRET_KEY": "bench-secret-key-not-for-production",
                   **settings}
            ctx = create_context(load_settings(environ=env, cwd=tmp))
            upgrade(ctx.engine)
            ensure_schema(ctx)

            def start() -> None:
                logs = [tmp / f"worker{n}.log" for n in range(workers)]
                for log in logs:
                    processes.append(subprocess.Popen(
                        [sys.executable, "-m", "awareness", "run", "--role", "worker"],
                        env={**os.environ, **env, "AWARENESS_WEB_PORT": str(free_port())},
                        cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT))
                while not all("worker: running jobs" in log.read_text() for log in logs):
                    time.sleep(0.1)

            queue = JobQueue(ctx).open()
            try:
                yield ctx, queue, start
            finally:
                queue.close()
                ctx.dispose()
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            process.wait(timeout=120)
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def time_polls(base_url: str, feeds: Feeds, count: int, workers: int) -> float:
    """Seconds for ``workers`` workers to poll every source once."""
    with deployment(base_url, feeds, count, workers) as (ctx, queue, start):
        start()
        started = time.monotonic()
        queue.enqueue_due_polls()
        while polled(ctx) < count:
            time.sleep(0.1)
        return time.monotonic() - started


def time_digests(base_url: str, feeds: Feeds, count: int, workers: int,
                 smtp_port: int) -> tuple[float, float]:
    """Seconds for ``workers`` workers to build, and to send, ``count`` digests."""
    smtp = {"AWARENESS_MAIL_BACKEND": "smtp", "AWARENESS_MAIL_SMTP_HOST": "127.0.0.1",
            "AWARENESS_MAIL_SMTP_PORT": str(smtp_port), "AWARENESS_MAIL_SEND_RATE": "1000000"}
    with deployment(base_url, feeds, DIGEST_SOURCES, workers, **smtp) as (ctx, queue, start):
        feeds.version = 0
        poll_service.poll(ctx)  # the baseline: never alerted
        feeds.version = 1
        outcomes = poll_service.poll(ctx, [f"s{n}" for n in range(DIGEST_SOURCES)])
        assert all(o.new_matches for o in outcomes), outcomes
        with writing(ctx.engine) as connection:
            for n in range(count):
                subscribers.subscribe(connection, email=f"reader{n}@trust.example",
                                      choices=[("leadership", "daily")],
                                      token=f"bench-token-{n:06d}-{'x' * 24}", now=ctx.now())
        start()
        started = time.monotonic()
        queue.enqueue_digests("daily")
        while sum(digests_out(ctx).values()) < count:
            time.sleep(0.05)
        built = time.monotonic() - started
        while digests_out(ctx).get("sent", 0) < count:
            time.sleep(0.05)
        return built, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", default="polls,digests")
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    base_url = os.environ.get("AWARENESS_TEST_DATABASE_URL", "")
    if not base_url.startswith("postgresql"):
        raise SystemExit("set AWARENESS_TEST_DATABASE_URL to a PostgreSQL database")
    counts = [int(n) for n in args.workers.split(",")]
    what = args.what.split(",")
    feeds = Feeds(max(args.sources, DIGEST_SOURCES), args.items)
    print(f"{os.cpu_count()} CPUs")
    if "polls" in what:
        print(f"\n{args.sources} sources × {args.items} items, cold polls")
        print("| workers | wall | sources a minute |\n|---:|---:|---:|")
        for workers in counts:
            seconds = time_polls(base_url, feeds, args.sources, workers)
            print(f"| {workers} | {seconds:.1f} s | {args.sources / seconds * 60:,.0f} |",
                  flush=True)
    if "digests" in what:
        ours, theirs = multiprocessing.Pipe()
        port = free_port()
        server = multiprocessing.Process(target=smtp_server, args=(port, theirs), daemon=True)
        server.start()
        ours.recv()
        print(f"\n{args.subscribers} daily digests of {DIGEST_SOURCES * args.items} items")
        print("| workers | built | sent | digests a second (sent) |\n|---:|---:|---:|---:|")
        for workers in counts:
            built, sent = time_digests(base_url, feeds, args.subscribers, workers, port)
            print(f"| {workers} | {built:.1f} s | {sent:.1f} s | "
                  f"{args.subscribers / sent:,.0f} |", flush=True)
        server.kill()
    feeds.server.shutdown()


if __name__ == "__main__":
    main()
