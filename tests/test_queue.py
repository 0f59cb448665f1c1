"""The worker role (issue 15): the leader enqueues, `run --role worker` processes poll and
relay through procrastinate on PostgreSQL; a job left by a killed worker is run by another,
once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from awareness.metrics import Metrics
from awareness.queue import DIGEST_SHARDS, JobQueue
from awareness.service import people
from awareness.service.context import create_context
from awareness.settings import load_settings
from awareness.storage.models import OutboxMessage
from tests.conftest import ROOT, Inbox, free_port, orm_session, settings_env
from tests.databases import PG_URL, Templates
from tests.test_operations import samples
from tests.test_outbox import add_match
from tests.test_polling import FLU, LEADERSHIP, rss

pytestmark = [
    pytest.mark.integration, pytest.mark.db,
    pytest.mark.skipif(not PG_URL, reason="needs AWARENESS_TEST_DATABASE_URL (PostgreSQL)"),
]


class Feeds:
    """Feeds on loopback that count requests; a path in ``held`` answers only once released."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.held: set[str] = set()
        self.release = threading.Event()
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                feeds.requests.append(self.path)
                if self.path in feeds.held:
                    feeds.release.wait(120)
                body = rss(FLU, LEADERSHIP)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def count(self, path: str) -> int:
        return self.requests.count(path)


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.2)


def scalar(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def deployment(database_templates: Templates, tmp_path: Path) -> Iterator[Any]:
    feeds = Feeds()
    with database_templates.database("postgresql", tmp_path, migrated=True) as url:
        subs = tmp_path / "subscriptions"
        (subs / "topics").mkdir(parents=True)
        (subs / "topics" / "leadership.toml").write_text(
            'name = "Leadership"\ndescription = "x"\nreview = "required"\nquery = "leader*"\n')
        (subs / "sources.toml").write_text("".join(
            f'[[source]]\nid = "{name}"\nname = "{name}"\npublisher = "NHS England"\n'
            f'kind = "feed"\nurl = "{feeds.url(f"/{name}")}"\n\n'
            for name in ("alpha", "beta", "slow")))
        env = {**os.environ, **settings_env(tmp_path, url,
                                            AWARENESS_PATHS_SUBSCRIPTIONS=str(subs),
                                            AWARENESS_SCHEDULE_POLL_SECONDS="1",
                                            AWARENESS_QUEUE_ENABLED="true")}
        subprocess.run([sys.executable, "-m", "awareness", "init"], env=env, cwd=ROOT,
                       check=True, capture_output=True)
        processes: list[subprocess.Popen[bytes]] = []

        def start(role: str, name: str, **extra: str) -> subprocess.Popen[bytes]:
            log = (tmp_path / f"{name}.log").open("w")
            process = subprocess.Popen(
                [sys.executable, "-m", "awareness", "run", "--role", role],
                env={**env, "AWARENESS_WEB_PORT": str(free_port()),
                     "AWARENESS_PATHS_DATA": str(tmp_path / name), **extra},
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            processes.append(process)
            return process

        try:
            yield feeds, url, start, tmp_path
        finally:
            feeds.release.set()
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in processes:
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            feeds.httpd.shutdown()


def test_workers_run_the_polls_and_a_killed_workers_job_runs_once_elsewhere(deployment):
    feeds, url, start, tmp_path = deployment
    feeds.held.add("/slow")
    start("scheduler", "leader")
    first = start("worker", "worker1")
    polled = "SELECT count(*) FROM sources WHERE last_attempt_at IS NOT NULL"
    wait_for(lambda: scalar(url, polled) == 2 and feeds.count("/slow"),
             "the worker polls two sources and starts on the third")
    # The worker is in the middle of polling "slow": kill it there.
    first.send_signal(signal.SIGKILL)
    first.wait()
    feeds.release.set()
    port = free_port()
    start("worker", "worker2", AWARENESS_WEB_PORT=str(port))
    wait_for(lambda: scalar(url, polled) == 3, "every source polled")
    assert scalar(url, "SELECT count(*) FROM items WHERE source_id = 'slow'") == 2  # once
    assert (feeds.count("/alpha"), feeds.count("/beta"), feeds.count("/slow")) == (1, 1, 2)
    # The worker that ran the put-back job counts it and times its fetch on its /metrics.
    # How many poll jobs it ran depends on the machine's speed: while the killed worker's
    # job waited to be found stalled, the leader's one-second ticks may have queued "slow"
    # again, and such a job, run after the put-back one, finds nothing due and fetches
    # nothing. The one fetch and the one poll are what every run has.
    found = scrape(port)
    assert found[("awareness_jobs_run_total", (("outcome", "ok"), ("task", "poll_source")))] >= 1
    assert found[("awareness_fetch_seconds_count", (("outcome", "ok"),))] == 1
    assert found[("awareness_polls_total", (("outcome", "ok"),))] == 1
    worker2 = (tmp_path / "worker2.log").read_text()
    assert "putting it back" in worker2 or "putting it back" in (
        tmp_path / "leader.log").read_text()
    assert "Traceback" not in (tmp_path / "leader.log").read_text()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A worker's /metrics, parsed by prometheus_client (waiting for it to listen)."""
    def answer() -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        except httpx.TransportError:
            return None
    wait_for(answer, "the worker's /metrics")
    response = answer()
    assert response is not None
    return samples(response.text)


def test_a_relay_job_sends_the_outbox_from_a_worker(deployment):
    _, url, start, tmp_path = deployment
    env = settings_env(tmp_path, url, AWARENESS_QUEUE_ENABLED="true")
    ctx = create_context(load_settings(environ=env, cwd=tmp_path))
    try:
        now = ctx.now()
        with orm_session(ctx) as session, session.begin():
            session.add(OutboxMessage(
                kind="digest", key="weekly:1", sender="library@trust.nhs.uk",
                recipient="reader@trust.nhs.uk", message_id="<weekly-1@trust.nhs.uk>",
                message=b"Subject: x\r\n\r\nx", status="pending", attempts=0, created_at=now,
                next_attempt_at=now))
        queue = JobQueue(ctx).open()
        try:
            queue.enqueue_relay()  # what the leader does at relay time, and a web page's nudge
            queue.enqueue_relay()  # one is waiting already: not queued twice
            assert queue.depth()["todo"] == 1
            # The members' lists at their weekly time, asked for twice (two timers): one job.
            assert (queue.enqueue("stewardship"), queue.enqueue("stewardship")) == (1, 0)
            assert queue.depth()["todo"] == 2
            metrics = Metrics()
            metrics.watch_jobs(queue.depth)
            [jobs] = [family for family in text_string_to_metric_families(
                generate_latest(metrics.registry).decode()) if family.name == "awareness_jobs"]
            assert {(s.labels["status"], s.value) for s in jobs.samples} == {
                ("todo", 2), ("doing", 0)}
            port = free_port()
            start("worker", "worker", AWARENESS_WEB_PORT=str(port))
            wait_for(lambda: queue.depth() == {"todo": 0, "doing": 0}, "the worker runs both")
        finally:
            queue.close()
    finally:
        ctx.dispose()
    assert scalar(url, "SELECT count(*) FROM outbox WHERE status = 'sent'") == 1
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    found = scrape(port)
    assert found[("awareness_jobs_run_total", (("outcome", "ok"), ("task", "stewardship")))] == 1
    assert found[("awareness_jobs_run_total", (("outcome", "ok"), ("task", "relay")))] == 1


class HoldingInbox(Inbox):
    """An SMTP sink that never answers the DATA of the addresses in ``hold`` (the sender waits
    as on a stuck server), and says when such a message has arrived."""

    def __init__(self, hold: set[str]) -> None:
        super().__init__()
        self.hold = hold
        self.holding = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hold & set(envelope.rcpt_tos):
            self.holding.set()
            await asyncio.sleep(3600)
        return await super().handle_DATA(server, session, envelope)


def test_digest_jobs_queue_each_digest_once_and_a_killed_worker_sends_none_twice(deployment):
    """The leader's digest time as jobs; a worker killed in the middle of an SMTP conversation
    (the server never answers one message's DATA): another worker sends every other message
    exactly once, and queuing the digests again queues nothing twice."""
    _, url, start, tmp_path = deployment
    readers = [f"reader{n}@trust.nhs.uk" for n in range(4)]
    inbox = HoldingInbox({readers[0]})
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        smtp = {"AWARENESS_MAIL_BACKEND": "smtp", "AWARENESS_MAIL_SMTP_HOST": "127.0.0.1",
                "AWARENESS_MAIL_SMTP_PORT": str(controller.port)}
        env = settings_env(tmp_path, url, AWARENESS_QUEUE_ENABLED="true", **smtp)
        ctx = create_context(load_settings(environ=env, cwd=tmp_path))
        queue = JobQueue(ctx).open()
        try:
            for reader in readers:
                people.add_subscriber(ctx, reader, ["leadership"], "weekly")
            add_match(ctx, "Leadership framework published")
            # The leader's work at the weekly time: jobs only; a second call (two timers, a
            # catch-up) queues no shard twice.
            assert queue.enqueue_digests("weekly") == DIGEST_SHARDS
            assert queue.enqueue_digests("weekly") == 0
            first = start("worker", "sender1", **smtp)
            assert inbox.holding.wait(60), "a worker builds the digests and starts sending"
            first.send_signal(signal.SIGKILL)  # in the middle of sending
            first.wait()
            port = free_port()
            start("worker", "sender2", AWARENESS_WEB_PORT=str(port), **smtp)
            sent = "SELECT count(*) FROM outbox WHERE status = 'sent'"
            wait_for(lambda: scalar(url, sent) == 3, "the other worker sends the rest")
            # Digest time again (a new leader's catch-up): every digest is queued already.
            assert queue.enqueue_digests("weekly") == DIGEST_SHARDS
            wait_for(lambda: queue.depth() == {"todo": 0, "doing": 0}, "the jobs run")
        finally:
            queue.close()
            ctx.dispose()
        assert scalar(url, "SELECT count(*) FROM outbox WHERE kind = 'digest'") == 4
        delivered = [rcpt for _, rcpts, _ in inbox.messages for rcpt in rcpts]
        assert sorted(delivered) == readers[1:]  # each once; the stuck one not yet
        # The stuck message stays claimed until its lease runs out, then is sent again with
        # the same Message-ID (at least once, RELIABILITY E3): nothing is lost.
        assert scalar(url, "SELECT count(*) FROM outbox WHERE status = 'sending'") == 1
        found = scrape(port)
        assert found[("awareness_send_seconds_count", ())] >= 3
        assert found[("awareness_jobs_run_total",
                      (("outcome", "ok"), ("task", "build_digests")))] >= DIGEST_SHARDS
    finally:
        controller.stop()
