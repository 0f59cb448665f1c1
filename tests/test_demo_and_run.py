"""`awareness run` serves and schedules; `--demo` puts a digest in the outbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from email import message_from_bytes, policy

import httpx
import pytest

from awareness.cli.run import DEMO_READER, prepare_demo, seed_demo
from awareness.service import digests, polling, review
from awareness.service.context import create_context
from awareness.settings import load_settings
from awareness.storage.db import upgrade
from tests.conftest import ROOT, free_port, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.db]  # servers, processes, SQLite


def test_demo_feeds_lead_to_matches_and_a_digest(tmp_path, capsys):
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    del env["AWARENESS_FETCH_ALLOWED_HOSTS"]  # the demo must allow its own loopback feeds
    settings, feeds = prepare_demo(load_settings(environ=env, cwd=tmp_path))
    try:
        ctx = create_context(settings)
        upgrade(ctx.engine)
        polling.sync_sources(ctx)
        seed_demo(ctx)
        ids = [s.id for s in ctx.sources()]
        baseline = polling.poll(ctx, ids)
        assert all(o.baseline and o.status == "ok" for o in baseline)
        for _ in range(3):
            polling.poll(ctx, ids)
        report = digests.send_digests(ctx)
        pending = review.list_matches(ctx, status="pending")
        ctx.dispose()
    finally:
        feeds.stop()
    assert "demo-librarian" in capsys.readouterr().out
    assert report.sent == 1
    outbox = list((tmp_path / "var" / "demo" / "outbox").glob("*.eml"))
    assert len(outbox) == 1
    message = message_from_bytes(outbox[0].read_bytes(), policy=policy.default)
    assert message["To"] == DEMO_READER
    assert "NHS England" in message.get_body(("plain",)).get_content()
    assert pending, "leadership items wait on the review page"
    assert any(m.drivers for m in pending), "and link to the imported driver records"
    kinds = {(d.slug, d.kind) for m in pending for d in m.drivers}
    assert ("state-of-care-2013-14", "new_edition") in kinds  # State of Care 2024/25


def test_run_serves_the_web_app_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {**os.environ, **settings_env(tmp_path, f"sqlite:///{tmp_path / 'a.db'}"),
           "AWARENESS_WEB_PORT": str(port)}
    subprocess.run([sys.executable, "-m", "awareness", "init"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "awareness", "run"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None and health.status_code == 200
        login = httpx.get(f"http://127.0.0.1:{port}/review", timeout=5)
        assert login.status_code == 303 and "/login" in login.headers["location"]
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "this process runs the scheduler" in output
