"""Shared fixtures: a real database (SQLite, and PostgreSQL when configured), a real HTTP
server for feeds, a real SMTP server, and a context built the way the service builds one."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from awareness.service.context import Context, create_context
from awareness.settings import load_settings
from awareness.storage.db import upgrade

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
PG_URL = os.environ.get("AWARENESS_TEST_DATABASE_URL")

DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])


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


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a private schema in PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


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


@pytest.fixture
def make_context(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[
        Callable[..., Context]]:
    """Build a migrated context; keyword arguments become AWARENESS_* settings."""
    made: list[Context] = []

    def make(**extra: str) -> Context:
        settings = load_settings(environ=settings_env(tmp_path, database_url, **extra),
                                 cwd=tmp_path)
        ctx = create_context(settings, clock=clock)
        upgrade(ctx.engine)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.dispose()


@dataclass
class Response:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


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
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
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
    """aiosmtpd handler that keeps every accepted message; can refuse chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
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
