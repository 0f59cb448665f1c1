"""Benchmark: sources polled a minute by 1, 2 and 4 worker processes through the job queue.

Run as ``AWARENESS_TEST_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/workers.py
[--sources N] [--items M] [--workers 1,2,4]`` (default 300 sources × 20 items). For each
worker count: a fresh schema in that database, migrated, with the queue's tables; N RSS feeds
served on 127.0.0.1 by a server in this process; K ``awareness run --role worker`` processes
started and waited for; then every source's ``poll_source`` job is enqueued at once (the
leader's work at a poll time) and the clock runs until every source's poll is written. Each
poll is a cold one (a new source: every item stored, as a baseline). The schema is dropped
afterwards. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from polling import feed  # the polling benchmark's NHS England-like feed

from awareness.queue import JobQueue, ensure_schema
from awareness.service.context import create_context
from awareness.settings import load_settings
from awareness.storage.db import upgrade

ROOT = Path(__file__).resolve().parents[1]


def serve(sources: int, items: int) -> ThreadingHTTPServer:
    bodies = {f"/{n}": feed(n, items, 0) for n in range(sources)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def polled(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(
                "SELECT count(*) FROM sources WHERE last_attempt_at IS NOT NULL")).scalar_one())
    finally:
        engine.dispose()


def run(base_url: str, sources: int, items: int, workers: int, port: int) -> float:
    """Seconds for ``workers`` workers to poll every source once."""
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
            (tmp / "subscriptions" / "sources.toml").write_text("".join(
                f'[[source]]\nid = "s{n}"\nname = "Source {n}"\npublisher = "Publisher {n}"\n'
                f'kind = "feed"\nurl = "http://127.0.0.1:{port}/{n}"\n\n'
                for n in range(sources)))
            env = {"AWARENESS_DATABASE_URL": url, "AWARENESS_QUEUE_ENABLED": "true",
                   "AWARENESS_PATHS_SUBSCRIPTIONS": str(tmp / "subscriptions"),
                   "AWARENESS_PATHS_TEMPLATES": str(ROOT / "templates"),
                   "AWARENESS_PATHS_DATA": str(tmp / "var"),
                   "AWARENESS_FETCH_ALLOWED_HOSTS": "127.0.0.1",
                   "AWARENESS_WEB_SECRET_KEY": "bench-secret-key-not-for-production"}
            ctx = create_context(load_settings(environ=env, cwd=tmp))
            upgrade(ctx.engine)
            ensure_schema(ctx)
            logs = [tmp / f"worker{n}.log" for n in range(workers)]
            for log in logs:
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "awareness", "run", "--role", "worker"],
                    env={**os.environ, **env}, cwd=ROOT, stdout=log.open("w"),
                    stderr=subprocess.STDOUT))
            while not all("worker: running jobs" in log.read_text() for log in logs):
                time.sleep(0.1)
            queue = JobQueue(ctx).open()
            started = time.monotonic()
            queue.enqueue_due_polls()
            while polled(url) < sources:
                time.sleep(0.1)
            elapsed = time.monotonic() - started
            queue.close()
            ctx.dispose()
            return elapsed
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            process.wait(timeout=120)
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    base_url = os.environ.get("AWARENESS_TEST_DATABASE_URL", "")
    if not base_url.startswith("postgresql"):
        raise SystemExit("set AWARENESS_TEST_DATABASE_URL to a PostgreSQL database")
    server = serve(args.sources, args.items)
    print(f"{args.sources} sources × {args.items} items, cold polls, {os.cpu_count()} CPUs")
    print("| workers | wall | sources a minute |\n|---:|---:|---:|")
    for workers in (int(n) for n in args.workers.split(",")):
        seconds = run(base_url, args.sources, args.items, workers, server.server_address[1])
        print(f"| {workers} | {seconds:.1f} s | {args.sources / seconds * 60:,.0f} |",
              flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
