"""RELIABILITY F21: one polling run over 500 sources on loopback, 15 % of them misbehaving.

25 sources accept and never answer, 25 drip one byte at a time, 25 answer 500 and the other
425 serve small real feeds (NHS England items). The sources are spread over five host names
that the injected resolver sends to 127.0.0.1; the names are allow-listed, so the SSRF guard
stays on and checks every connection as in production.

The run must finish within (sources / ``[fetch] concurrency``) × ``[fetch] total_timeout``.
The test checks the two facts that bound it rather than timing the run: the server never sees
more than ``concurrency`` connections at once, and every hanging or dripping fetch ends with
the total deadline's error, not a read timeout (speed is measured in bench/polling.py).
"""

from __future__ import annotations

import json
import math
import selectors
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import func, select

from awareness.service import polling
from awareness.service.context import create_context
from awareness.settings import load_settings
from awareness.storage.models import Item, Source
from tests.conftest import DATA, orm_session, settings_env

pytestmark = pytest.mark.integration  # its own HTTP server

SOURCES = 500
HOSTS = [f"feeds-{n}.publisher.test" for n in range(5)]
# Of every 20 sources (5 %), one hangs, one drips, one answers 500; the rest are healthy.
FAULTS = {0: "hang", 1: "drip", 2: "fail"}
DEADLINE = 1.0  # [fetch] total_timeout for this run, seconds
DRIP_SECONDS = 0.2  # one byte this often, so a drip is only ever stopped by the deadline
ITEMS = 5
# Peak RSS of the polling process may grow by at most this much during the run. What the run
# holds at once is one body and its parsed items per poll thread (a few KB each here) plus one
# outcome per source; the growth measured was 17 MiB when this is the process's first poll
# (imports, SQLAlchemy, httpx and TLS state of eight threads) and 2 MiB when it is not.
# 64 MiB leaves room for that and is still well below what keeping every connection, body or
# parsed feed of the run, or leaking ~100 KB per fetch, would add at 500 sources.
MEMORY_CEILING_MIB = 64


def kind(source: int) -> str:
    # Faults rotate over the hosts, so every host has some of each (5 of each kind per host).
    return FAULTS.get((source // len(HOSTS)) % 20, "ok")


def host(source: int) -> str:
    return HOSTS[source % len(HOSTS)]


def feed(source: int, snapshots: list[dict]) -> bytes:
    """A small RSS feed of real NHS England items, with links of its own publisher."""
    items = snapshots[source % len(snapshots)]["items"][:ITEMS]
    assert len(items) == ITEMS
    entries = "".join(
        f"<item><title>{escape(item['title'])}</title>"
        f"<link>https://{host(source)}/news/{source}/{n}/</link>"
        f"<pubDate>Mon, 23 Nov 2026 00:01:00 +0000</pubDate>"
        f"<description>{escape(item['description'])}</description></item>"
        for n, item in enumerate(items))
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Publisher {source}</title>{entries}</channel></rss>").encode()


@dataclass
class Connection:
    sock: socket.socket
    host: str
    inbox: bytes = b""
    outbox: bytes = b""
    answered: bool = False
    close_when_sent: bool = False
    dripped: int = 0
    next_drip: float = math.inf


@dataclass
class LoadServer:
    """Every host's feeds, served by one thread with one selector.

    Each host name has its own listener, so a connection is counted for its host from the
    moment it is accepted, before any request byte arrives (a hanging connection counts too).
    Before a new connection is counted, the open ones are read until they would block, so one
    the client has already closed is never counted beside the one that replaced it.
    """

    bodies: dict[int, bytes]
    ports: dict[str, int] = field(default_factory=dict)
    open: dict[str, set[int]] = field(default_factory=dict)
    peak: Counter[str] = field(default_factory=Counter)
    peak_all: int = 0
    kinds_served: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._conns: dict[int, Connection] = {}
        self._stop = threading.Event()
        for name in HOSTS:
            listener = socket.create_server(("127.0.0.1", 0), backlog=64)
            listener.setblocking(False)
            self._selector.register(listener, selectors.EVENT_READ, name)
            self.ports[name] = listener.getsockname()[1]
            self.open[name] = set()
        self._thread = threading.Thread(target=self._run, name="load-server", daemon=True)
        self._thread.start()

    def url(self, source: int) -> str:
        return f"http://{host(source)}:{self.ports[host(source)]}/feed/{source}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()

    # --- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            wake = min((c.next_drip for c in self._conns.values()), default=math.inf)
            events = self._selector.select(timeout=min(0.05, max(0.0, wake - time.monotonic())))
            # Connections first, then listeners: a close is seen before the accept after it.
            for key, mask in sorted(events, key=lambda e: isinstance(e[0].data, str)):
                if isinstance(key.data, str):
                    self._accept(key.fileobj, key.data)  # type: ignore[arg-type]
                    continue
                conn: Connection = key.data
                if mask & selectors.EVENT_READ and conn.sock.fileno() in self._conns:
                    self._read(conn)
                if mask & selectors.EVENT_WRITE and conn.sock.fileno() in self._conns:
                    self._write(conn)
            now = time.monotonic()
            for conn in [c for c in self._conns.values() if c.next_drip <= now]:
                self._drip(conn, now)

    def _accept(self, listener: socket.socket, name: str) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                return
            for conn in list(self._conns.values()):
                self._read(conn)  # closes the ones whose client has gone
            sock.setblocking(False)
            conn = Connection(sock, name)
            self._conns[sock.fileno()] = conn
            self.open[name].add(sock.fileno())
            self.peak[name] = max(self.peak[name], len(self.open[name]))
            self.peak_all = max(self.peak_all, len(self._conns))
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn: Connection) -> None:
        while conn.sock.fileno() in self._conns:
            try:
                data = conn.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close(conn)
                return
            conn.inbox += data
            if not conn.answered and b"\r\n\r\n" in conn.inbox:
                self._answer(conn)

    def _answer(self, conn: Connection) -> None:
        conn.answered = True
        source = int(conn.inbox.split(b" ", 2)[1].rsplit(b"/", 1)[1])
        what = kind(source)
        self.kinds_served[what] += 1
        if what == "hang":
            return  # accepted, request read, never answered
        if what == "drip":
            self._send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                             b"Content-Length: 100000\r\nConnection: close\r\n\r\n<")
            conn.next_drip = time.monotonic() + DRIP_SECONDS
            return
        if what == "fail":
            head, body = b"HTTP/1.1 500 Internal Server Error\r\n", b""
        else:
            head, body = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n", \
                self.bodies[source]
        conn.close_when_sent = True
        self._send(conn, head + b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                   % len(body) + body)

    def _drip(self, conn: Connection, now: float) -> None:
        conn.dripped += 1
        if conn.dripped > 100:  # 20 s: the client should have left long ago; end it here
            self._close(conn)
            return
        conn.next_drip = now + DRIP_SECONDS
        self._send(conn, b"<")

    def _send(self, conn: Connection, data: bytes) -> None:
        conn.outbox += data
        self._write(conn)

    def _write(self, conn: Connection) -> None:
        try:
            sent = conn.sock.send(conn.outbox)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._close(conn)
            return
        conn.outbox = conn.outbox[sent:]
        if not conn.outbox and conn.close_when_sent:
            self._close(conn)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbox else 0)
        self._selector.modify(conn.sock, events, conn)

    def _close(self, conn: Connection) -> None:
        fileno = conn.sock.fileno()
        self._conns.pop(fileno, None)
        self.open[conn.host].discard(fileno)
        self._selector.unregister(conn.sock)
        conn.sock.close()


def peak_rss_mib() -> float:
    """This process's peak resident memory since the last reset (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def resolve(name: str, port: int) -> list[str]:
    """The test's DNS: every publisher host is this machine; anything else does not exist."""
    if name in HOSTS:
        return ["127.0.0.1"]
    raise OSError(f"{name} is not a host of this test")


def test_f21_500_sources_with_hanging_dripping_and_failing_ones(database_url, tmp_path, clock):
    snapshots = json.loads((DATA / "nhs-england-news-feed-poll-snapshots-2025-10_2026-01.json")
                           .read_text(encoding="utf-8"))["snapshots"]
    server = LoadServer({i: feed(i, snapshots) for i in range(SOURCES) if kind(i) == "ok"})
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    (subs / "sources.toml").write_text("".join(
        f'[[source]]\nid = "s{i:03}"\nname = "S{i}"\npublisher = "P{i}"\nkind = "feed"\n'
        f'url = "{server.url(i)}"\n\n' for i in range(SOURCES)), encoding="utf-8")
    env = settings_env(tmp_path, database_url, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs),
                       AWARENESS_FETCH_ALLOWED_HOSTS=",".join(HOSTS),
                       AWARENESS_FETCH_TOTAL_TIMEOUT=str(DEADLINE),
                       AWARENESS_FETCH_CONCURRENCY="8", AWARENESS_FETCH_PER_HOST="2")
    ctx = create_context(load_settings(environ=env, cwd=tmp_path), clock=clock, resolver=resolve)
    try:  # database_url is migrated already
        ids = [f"s{i:03}" for i in range(SOURCES)]
        Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) from here
        before = rss_mib()
        outcomes = polling.poll(ctx, ids)
        grown = peak_rss_mib() - before
        with orm_session(ctx) as session:
            rows = {row.id: row for row in session.scalars(select(Source))}
            stored = dict(session.execute(select(Item.source_id, func.count())
                                          .group_by(Item.source_id)).all())
    finally:
        ctx.dispose()
        server.close()
    settings = ctx.settings

    # Bounded time, without timing the run: at most `concurrency` fetches at once (below) and
    # every hanging or dripping one ended by the total deadline, not a read timeout (its
    # error says so), so the run is bounded by (sources / concurrency) × deadline.
    # Politeness, measured by the server: never more than `per_host` connections to a host.
    per_host = settings.fetch.per_host
    assert max(server.peak.values()) == per_host, server.peak  # reached, never passed
    assert per_host < server.peak_all <= settings.fetch.concurrency, server.peak_all
    assert server.kinds_served == {"ok": 425, "hang": 25, "drip": 25, "fail": 25}

    # Healthy sources are unaffected: every one stored all its items, with no error.
    by_id = {o.source_id: o for o in outcomes}
    assert [o.source_id for o in outcomes] == ids
    healthy = [f"s{i:03}" for i in range(SOURCES) if kind(i) == "ok"]
    assert len(healthy) == 425
    for sid in healthy:
        assert (by_id[sid].status, by_id[sid].new_items, by_id[sid].error) == ("ok", ITEMS, None)
        assert stored.get(sid) == ITEMS, sid
        assert rows[sid].last_error is None and rows[sid].last_success_at is not None

    # Failing sources have a clear last error, keep their place and are not deleted.
    expected = {"hang": "timeout after 1 s (total)", "drip": "timeout after 1 s (total)",
                "fail": "HTTP 500"}
    assert len(rows) == SOURCES
    for i in range(SOURCES):
        what, sid = kind(i), f"s{i:03}"
        if what == "ok":
            continue
        row = rows[sid]
        assert by_id[sid].status == "failed", sid
        assert row.last_error is not None and row.last_error.startswith(expected[what]), (
            sid, what, row.last_error)
        assert (row.error_count, row.state, row.enabled, stored.get(sid)) == (
            1, "active", True, None), sid
        assert row.next_check_at is not None and row.next_check_at > clock.now

    # Bounded memory (the parse workers are separate processes with their own limit).
    assert grown < MEMORY_CEILING_MIB, f"peak RSS grew by {grown:.0f} MiB during the run"
