"""Shared fixtures: a real database (SQLite, and PostgreSQL when configured), a real HTTP
server for feeds, a real SMTP server, and a context built the way the service builds one.

Also the test tiers (docs/testing.md): every test is marked ``core``, ``db``, ``integration``
or ``browser`` from the fixtures it uses (or a marker it declares), and a test that opens a
database, socket or process its tiers do not allow fails, so the tiers cannot drift.
"""

from __future__ import annotations

import multiprocessing.process
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx._transports.default
import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from hypothesis import HealthCheck, settings
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.orm import Session
from sqlalchemy.util import LRUCache

from awareness.service import librarians
from awareness.service.context import Context, create_context
from awareness.settings import load_settings
from awareness.storage.db import WRITE, upgrade
from tests.databases import PG_URL, Templates

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])


# --- tiers ------------------------------------------------------------------------------------

TIERS = ("core", "db", "integration", "browser")
# A test that uses one of these fixtures (directly or through another fixture) is in the tier;
# a test module names the tiers of its own fixtures in FIXTURE_TIERS.
TIER_OF_FIXTURE = {
    "database_url": "db",
    "empty_database_url": "db",
    "database_templates": "db",
    "feed_server": "integration",
    "smtp_server": "integration",
    "browser": "browser",
}
# What a test may only reach in the tiers that allow it: (owner, attribute, what it is).
GUARDED: dict[str, list[tuple[Any, str, str]]] = {
    "db": [(DefaultDialect, "connect", "a database"), (sqlite3, "connect", "a SQLite file")],
    "integration": [(socket.socket, "connect", "a socket"),
                    (socket.socket, "connect_ex", "a socket"),
                    (socket.socket, "bind", "a socket"),
                    (subprocess.Popen, "__init__", "a subprocess"),
                    (multiprocessing.process.BaseProcess, "start", "a child process")],
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tiers; a test with none of them is the pure ``core``.

    A browser test runs on SQLite only: it checks what a page shows and how (axe-core, the
    layout at two widths, the journey), which does not depend on the database; the queries
    behind every page run on both backends in the ``db`` tests. Running each journey twice
    cost minutes of the suite's budget (docs/testing.md)."""
    for item in items:
        declared = {mark.name for mark in item.iter_markers() if mark.name in TIERS}
        known = {**TIER_OF_FIXTURE, **getattr(getattr(item, "module", None), "FIXTURE_TIERS", {})}
        used = {known[name] for name in getattr(item, "fixturenames", ()) if name in known}
        tiers = used | declared or {"core"}
        if "browser" in tiers:
            tiers.add("integration")  # a browser is a process on the other end of a socket
        for tier in sorted(tiers - declared):
            item.add_marker(tier)
    on_postgresql = [item for item in items if item.get_closest_marker("browser")
                     and "postgresql" in getattr(getattr(item, "callspec", None), "params",
                                                 {}).values()]
    if on_postgresql:
        config.hook.pytest_deselected(items=on_postgresql)
        items[:] = [item for item in items if item not in on_postgresql]


class _OutsideItsTier(BaseException):
    """Raised past any ``except Exception`` when a test reaches beyond its tiers."""


@pytest.fixture(autouse=True)
def _tiers_hold(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that opens a database, socket or process its tiers do not allow fails.

    So the markers cannot drift from what the tests do: ``-m core`` is the pure core.
    """
    tiers = {mark.name for mark in request.node.iter_markers() if mark.name in TIERS}
    seen: set[str] = set()

    def refuse(what: str, tier: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            seen.add(f"{what} (mark the test `{tier}`)")
            raise _OutsideItsTier(f"this test may not open {what}: mark it `{tier}`")
        return refused

    with pytest.MonkeyPatch.context() as patch:
        for tier, guarded in GUARDED.items():
            if tier not in tiers:
                for owner, name, what in guarded:
                    patch.setattr(owner, name, refuse(what, tier))
        yield
    if seen:
        pytest.fail("the test reached outside its tiers: " + "; ".join(sorted(seen)))


# --- no test is timed -------------------------------------------------------------------------

# Hypothesis fails an example that takes over 200 ms, and a run whose data generation is slow:
# timed assertions in disguise, which failed test_digest_render.py on a loaded machine.
settings.register_profile("untimed", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("untimed")


# --- passwords --------------------------------------------------------------------------------

# argon2id at the production cost is 0.2 s of CPU for every hash and every login, and the web
# tests hash and log in hundreds of times: a third of the suite's CPU. The suite hashes at
# argon2's lowest cost instead; test_web.py's test_passwords_are_hashed_at_the_production_cost
# checks the service's own hasher, kept here as SERVICE_HASHER.
SERVICE_HASHER, SERVICE_DUMMY_HASH = librarians._hasher, librarians._dummy_hash
TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    test_dummy = TEST_HASHER.hash("not a password")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(librarians, "_hasher", TEST_HASHER)
        patch.setattr(librarians, "_dummy_hash", lambda: test_dummy)
        yield


# --- TLS contexts ----------------------------------------------------------------------------

# httpx builds a verifying TLS context for every client and transport it makes, reading and
# parsing the CA bundle each time (about 20 ms of CPU), though the tests' clients speak plain
# HTTP to 127.0.0.1: 27 s of the suite's CPU over its ~1,400 clients. Those that ask for the
# default (verify, no client certificate, the environment's CA settings) share one, built by
# httpx the same way.
_DEFAULT_TLS = httpx._transports.default.create_ssl_context


@pytest.fixture(autouse=True, scope="session")
def _one_default_tls_context() -> Iterator[None]:
    shared = _DEFAULT_TLS()

    def tls_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is True and cert is None and trust_env:
            return shared
        return _DEFAULT_TLS(verify=verify, cert=cert, trust_env=trust_env)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx._transports.default, "create_ssl_context", tls_context)
        yield


# --- the database, seen from a test ---------------------------------------------------------

def orm_session(ctx: Context) -> Session:
    """An ORM session on the test's database, to seed rows or look at them. The service itself
    reads and writes only through storage/ (tests/test_layers.py)."""
    return Session(ctx.engine, expire_on_commit=False)


@contextmanager
def orm_writing(ctx: Context) -> Iterator[Session]:
    """An ORM session in a write transaction (``BEGIN IMMEDIATE`` on SQLite, as the service's
    writes), committed at the end."""
    with orm_session(ctx) as session, session.begin():
        session.connection(execution_options={WRITE: True})
        yield session


# --- clock ------------------------------------------------------------------------------------

@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --- web servers ------------------------------------------------------------------------------

LIVE_SERVER = "live-server"  # the threads of test_web.LiveServer, which stop on their own


@pytest.fixture(scope="session", autouse=True)
def _live_servers_stop() -> Iterator[None]:
    """No test web server outlives the session, though none is waited for at its test's end."""
    yield
    for thread in threading.enumerate():
        if thread.name == LIVE_SERVER:
            thread.join(timeout=30)
            assert not thread.is_alive(), "a test web server did not stop"


# --- databases --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def database_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    templates = Templates(tmp_path_factory.mktemp("template"))
    yield templates
    templates.close()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                 database_templates: Templates) -> Iterator[str]:
    """A database of this test's own, already migrated: a copy of the session's template.

    A SQLite file, or a private schema in PostgreSQL. Tests of migrations and of
    ``awareness init`` use ``empty_database_url`` instead.
    """
    with database_templates.database(request.param, tmp_path, migrated=True) as url:
        yield url


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path,
                       database_templates: Templates) -> Iterator[str]:
    """A fresh, empty database (no tables): for migrations and ``awareness init``."""
    with database_templates.database(request.param, tmp_path, migrated=False) as url:
        yield url


def settings_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    """Environment for load_settings: repo subscriptions/templates, everything else in tmp."""
    env = {
        "AWARENESS_DATABASE_URL": database_url,
        "AWARENESS_PATHS_SUBSCRIPTIONS": str(ROOT / "subscriptions"),
        "AWARENESS_PATHS_TEMPLATES": str(ROOT / "templates"),
        "AWARENESS_PATHS_DATA": str(tmp_path / "var"),
        "AWARENESS_MAIL_OUTBOX": str(tmp_path / "outbox"),
        "AWARENESS_WEB_SECRET_KEY": "test-secret-key-not-for-production",
        "AWARENESS_FETCH_ALLOWED_HOSTS": "127.0.0.1",
        "AWARENESS_MAIL_SEND_RATE": "1000",
    }
    env.update(extra)
    return env


class CompiledAcrossEngines:
    """SQLAlchemy's cache of compiled statements, shared by the test engines of one backend.

    An engine keeps its statements compiled for its life, the service's for the process's.
    Each test has a database and so an engine of its own, and compiled every statement it ran
    again: 22 s of the suite's CPU. SQLAlchemy keys a compiled statement by the engine's
    dialect object; this cache keys it by the dialect's kind and server version instead, which
    is all the SQL it compiles to depends on (tables carry no schema; PostgreSQL tests set
    theirs in the search path).
    """

    def __init__(self) -> None:
        self._compiled: LRUCache[Any, Any] = LRUCache(5000)

    @staticmethod
    def _key(key: tuple[Any, ...]) -> tuple[Any, ...]:
        dialect = key[0]
        return (type(dialect), dialect.server_version_info, *key[1:])

    def get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        return self._compiled.get(self._key(key), default)

    def __setitem__(self, key: tuple[Any, ...], compiled: Any) -> None:
        self._compiled[self._key(key)] = compiled


COMPILED = CompiledAcrossEngines()


@pytest.fixture
def make_context(tmp_path: Path, database_url: str, clock: Clock,
                 database_templates: Templates) -> Iterator[Callable[..., Context]]:
    """Build a migrated context; keyword arguments become AWARENESS_* settings."""
    made: list[Context] = []

    def make(**extra: str) -> Context:
        settings = load_settings(environ=settings_env(tmp_path, database_url, **extra),
                                 cwd=tmp_path)
        ctx = create_context(settings, clock=clock)
        ctx.engine.update_execution_options(compiled_cache=COMPILED)
        if settings.database.url not in database_templates.migrated:
            upgrade(ctx.engine)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.dispose()


# --- servers ----------------------------------------------------------------------------------

@dataclass
class Response:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = False  # answer 304 to an If-None-Match of the ETag, as servers do


class FeedServer:
    """A real HTTP server on 127.0.0.1 serving whatever the test puts in ``routes``."""

    def __init__(self) -> None:
        self.routes: dict[str, Response] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers.items())))
                response = server.routes.get(self.path)
                if response is None:
                    self.send_error(404)
                    return
                if response.conditional and self.headers.get("If-None-Match") == \
                        response.headers.get("ETag"):
                    self.send_response(304)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # shutdown() waits for the loop to look at its flag: every poll_interval (0.5 s by
        # default, paid by every test that starts a server).
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


class Inbox:
    """aiosmtpd handler that keeps every accepted message; can refuse chosen recipients, or
    drop the connection in the middle of DATA for them; counts the connections."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse: dict[str, str] = {}
        self.drop_in_data: set[str] = set()
        self.connections = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop_in_data & set(envelope.rcpt_tos):
            server.transport.close()  # the message never arrives, nor does any reply
            return "451 never sent"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    # aiosmtpd cannot bind port 0 itself (it probes the port after starting), so pick one.
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


class RecordedSteps:
    """``awareness.progress.Steps`` that keep the stages a long command's progress bars would
    show: [stage, total, steps counted] each."""

    def __init__(self) -> None:
        self.stages: list[list[Any]] = []

    def begin(self, stage: str, total: int) -> None:
        self.stages.append([stage, total, 0])

    def step(self, count: int = 1) -> None:
        self.stages[-1][2] += count
