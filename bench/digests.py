"""Benchmark: preparing and sending digests, beside the standard library doing the same.

Run as ``.venv/bin/python bench/digests.py [--subscribers N] [--items M] [--repeat K]
[--profile]``
(default 1,000 subscribers, 20 items a topic, 3 runs, each in a fresh interpreter so no cache
of an earlier run helps a later one). Not timed: a migrated SQLite database with the seed
page's driver records imported, ten topics (``topic-k``: ``leader* AND "trust k"``, no review,
``driver_tags = ["Leadership"]``), N subscribers each following one of them, and a real poll
(``polling.poll``) of ten loopback feeds served from a separate process — a first poll (the
baseline), then one that finds M new items in each feed, every one matching its feed's topic
and linked to driver records. Then, measured, in this order:

* prepare: ``service.digests.enqueue`` — every subscriber's digest read from storage, built,
  rendered (text and HTML) and queued in the outbox;
* floor, prepare: the standard library alone building the same two-part messages (the same
  headers, text and HTML, as rendered above) with ``email.message.EmailMessage`` and
  inserting each with ``sqlite3``, committing every 25 as the service does;
* floor, send: ``smtplib`` sending the same bytes over one connection;
* send: the relay (``service.outbox.relay``) sending every queued digest.

Mail goes to an aiosmtpd server in a separate process on 127.0.0.1 that accepts and discards
it. CPU is this process's user + system time (``resource.getrusage``): neither server is in
it. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import multiprocessing
import pstats
import random
import resource
import shutil
import smtplib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from matching import corpus_words
from pipeline import LEADERSHIP, feed_body, item_texts
from polling import ROOT, make_context, serve

TOPICS = 10
BATCH = 25  # service.digests.BATCH: digests written per transaction
SEED = ROOT / "tests" / "data" / "map-toolkit-leadership-tag-page.txt"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def smtp_server(port: int, ready: Any) -> None:
    """An aiosmtpd server that accepts every message and keeps none (child process)."""
    import time

    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.send(True)
    while True:
        time.sleep(3600)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def feeds(items: int) -> dict[tuple[int, int], bytes]:
    """Feed k's bodies (version 0, the baseline, and 1, the new items): titles and summaries of
    real NHS words, every summary naming its trust (what topic k asks for), half of them with
    the leadership sentence that links the seed's drivers."""
    rng = random.Random(11)
    texts = item_texts(corpus_words(), 1, 2 * TOPICS * items, rng, marked=0.0,
                       leadership=False)
    out = {}
    for k in range(TOPICS):
        for version in (0, 1):
            mine = texts[(2 * k + version) * items:(2 * k + version + 1) * items]
            out[k, version] = feed_body(k, version, [
                (title, f"Leaders of trust {k}: " + (f"{LEADERSHIP} " if n % 2 else "") + summary)
                for n, (title, summary) in enumerate(mine)])
    return out


def write_topics(subs: Path) -> None:
    """Ten topics, each matching the items of one feed only."""
    shutil.rmtree(subs / "topics")
    (subs / "topics").mkdir()
    for k in range(TOPICS):
        (subs / "topics" / f"topic-{k}.toml").write_text(
            f'name = "Topic {k}"\ndescription = "Leadership news of trust {k}."\n'
            f"query = '''leader* AND \"trust {k}\"'''\n"
            f'review = "none"\ndriver_tags = ["Leadership"]\n', encoding="utf-8")


def subscribe(ctx: Any, count: int) -> None:
    """``count`` subscribers, the i-th following topic i mod 10."""
    from awareness.storage import subscribers
    from awareness.storage.db import writing

    with writing(ctx.engine) as conn:
        for i in range(count):
            subscribers.subscribe(conn, email=f"reader{i}@trust{i % TOPICS}.example",
                                  choices=[(f"topic-{i % TOPICS}", "daily")],
                                  token=f"bench-token-{i:06d}-{'x' * 24}", now=ctx.now())


def prepare(tmp: Path, args: argparse.Namespace, smtp_port: int) -> Any:
    """The context, after a baseline poll and a poll that found the new items."""
    from awareness.service import polling
    from awareness.service.drivers import import_paths

    mp = multiprocessing.get_context("fork")
    state = mp.Array("b", TOPICS, lock=False)
    ours, theirs = mp.Pipe()
    bodies = feeds(args.items)
    counts = mp.Array("q", 4, lock=False)  # what the server answered; not reported here
    server = mp.Process(target=serve, args=(theirs, TOPICS, args.items, state, "wordpress",
                                            counts, False, lambda k, version: bodies[k, version]),
                        daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ours.recv()}"
    ctx = make_context(tmp, base, TOPICS, settings={
        "AWARENESS_MAIL_BACKEND": "smtp", "AWARENESS_MAIL_SMTP_HOST": "127.0.0.1",
        "AWARENESS_MAIL_SMTP_PORT": str(smtp_port), "AWARENESS_MAIL_SMTP_SECURITY": "none",
        "AWARENESS_MAIL_SEND_RATE": "1000000"})  # no pause between messages: CPU only
    write_topics(tmp / "subs")
    import_paths(ctx, [SEED], changed_by="bench")
    ids = [f"s{k}" for k in range(TOPICS)]
    polling.poll(ctx, ids)  # the baseline: never alerted
    for k in range(TOPICS):
        state[k] = 1  # the newer body: args.items new items
    outcomes = polling.poll(ctx, ids)
    server.kill()
    assert all(o.new_matches == args.items for o in outcomes), outcomes
    subscribe(ctx, args.subscribers)
    return ctx


class Recorder:
    """Wraps ``mail.compose.compose`` as rendering calls it, keeping what it was given and
    what it made, so the floors can build and send the same messages."""

    def __init__(self) -> None:
        from awareness.digests import render

        self.module, self.compose = render, render.compose
        self.calls: list[dict[str, Any]] = []
        self.mails: list[Any] = []
        render.compose = self

    def __call__(self, **kwargs: Any) -> Any:
        mail = self.compose(**kwargs)
        self.calls.append(kwargs)
        self.mails.append(mail)
        return mail

    def stop(self) -> None:
        self.module.compose = self.compose


def floor_prepare(calls: list[dict[str, Any]], path: Path) -> float:
    """CPU seconds of building each message with ``EmailMessage`` and inserting it with
    ``sqlite3``, a commit every ``BATCH``."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, key TEXT UNIQUE, "
               "recipient TEXT, message_id TEXT, data BLOB)")
    start = cpu()
    for first in range(0, len(calls), BATCH):
        db.execute("BEGIN IMMEDIATE")
        for call in calls[first:first + BATCH]:
            message = EmailMessage()
            message["From"] = f"{call['sender'].name} <{call['sender'].address}>"
            message["To"] = call["to"]
            message["Subject"] = call["subject"]
            message["Date"] = format_datetime(call["date"])
            message["Message-ID"] = call["message_id"]
            lists = call["list_headers"]
            message["List-Id"] = f"{lists.name} {lists.list_id}"
            message["List-Unsubscribe"] = f"<{lists.unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            message.set_content(call["text"])
            message.add_alternative(call["html"], subtype="html")
            db.execute("INSERT INTO outbox (key, recipient, message_id, data) "
                       "VALUES (?, ?, ?, ?)", (call["message_id"], call["to"],
                                               call["message_id"], message.as_bytes()))
        db.execute("COMMIT")
    seconds = cpu() - start
    db.close()
    return seconds


def floor_send(mails: list[Any], port: int) -> float:
    """CPU seconds of ``smtplib`` sending the same bytes over one connection."""
    start = cpu()
    with smtplib.SMTP("127.0.0.1", port) as client:
        for mail in mails:
            client.sendmail(mail.sender, [mail.recipient], mail.data)
    return cpu() - start


def once(args: argparse.Namespace) -> dict[str, Any]:
    """One run in this interpreter."""
    from awareness.service import digests, outbox

    logging.disable(logging.WARNING)
    port = free_port()
    mp = multiprocessing.get_context("fork")
    ready, theirs = mp.Pipe()
    server = mp.Process(target=smtp_server, args=(port, theirs), daemon=True)
    server.start()
    ready.recv()
    tmp = Path(tempfile.mkdtemp(prefix="awareness-bench-"))
    try:
        ctx = prepare(tmp, args, port)
        recorder = Recorder()
        report = digests.SendReport()
        profiler = cProfile.Profile() if args.profile else None
        start = cpu()
        if profiler:
            profiler.enable()
        digests.enqueue(ctx, report, frequency=None, dry_run=False)
        service_prepare = cpu() - start
        if profiler:
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
        recorder.stop()
        assert report.queued == args.subscribers, report
        plain_prepare = floor_prepare(recorder.calls, tmp / "floor.db")
        plain_send = floor_send(recorder.mails, port)
        start = cpu()
        relayed = outbox.relay(ctx)
        service_send = cpu() - start
        assert relayed.sent == args.subscribers, relayed
        ctx.engine.dispose()
        sizes = [len(mail.data) for mail in recorder.mails]
        return {"digests": args.subscribers, "prepare": service_prepare,
                "floor_prepare": plain_prepare, "send": service_send, "floor_send": plain_send,
                "kib": statistics.median(sizes) / 1024}
    finally:
        server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20, help="new matched items a topic")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true",
                        help="one run with preparing under cProfile; the top costs to stderr")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once or args.profile:
        print(json.dumps(once(args)))
        return
    print(f"{args.subscribers} subscribers, {TOPICS} topics, {args.items} items a digest; "
          "each run a fresh interpreter", flush=True)
    rows = []
    for _ in range(args.repeat):
        done = subprocess.run([sys.executable, __file__, "--once", "--subscribers",
                               str(args.subscribers), "--items", str(args.items)],
                              check=True, stdout=subprocess.PIPE, text=True,
                              timeout=timedelta(minutes=30).total_seconds())
        row = json.loads(done.stdout)
        rows.append(row)
        print("  ".join(f"{key} {1000 * row[key] / row['digests']:.2f} ms"
                        for key in ("prepare", "floor_prepare", "send", "floor_send"))
              + f"  ({row['kib']:.1f} KiB a digest)", flush=True)

    def cell(key: str) -> str:
        values = [1000 * row[key] / row["digests"] for row in rows]
        return (f"{statistics.median(values):.2f} ms "
                f"(runs {min(values):.2f}–{max(values):.2f})")

    print("\nCPU per digest: median (range)")
    print("| | service | floor |\n|---|---:|---:|")
    print(f"| prepare (read, build, render, queue) | {cell('prepare')} | "
          f"{cell('floor_prepare')} |")
    print(f"| send | {cell('send')} | {cell('floor_send')} |")


if __name__ == "__main__":
    main()
