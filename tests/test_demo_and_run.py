"""`awareness run` serves and schedules; `--demo` puts a digest in the outbox."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from email import message_from_bytes, policy

import feedparser
import httpx
import pytest
from click.testing import CliRunner

from awareness.cli import cli
from awareness.cli.run import (
    DEMO_READER,
    DEMO_STAFF,
    demo_bulletin,
    demo_database_url,
    prepare_demo,
    seed_demo,
    this_command,
)
from awareness.errors import ConfigError
from awareness.service import bulletins, digests, polling, review
from awareness.service.context import create_context
from awareness.service.stewardship import load_members
from awareness.settings import load_settings
from awareness.storage.db import upgrade
from tests.conftest import ROOT, free_port, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.db]  # servers, processes, SQLite


def test_demo_feeds_lead_to_matches_and_a_digest(tmp_path, capsys, database_url):
    env = settings_env(tmp_path, database_url)
    del env["AWARENESS_FETCH_ALLOWED_HOSTS"]  # the demo must allow its own loopback feeds
    settings, feeds = prepare_demo(load_settings(environ=env, cwd=tmp_path))
    # The configured database, PostgreSQL too (issue 15: the demo used to force SQLite).
    assert settings.database.url == database_url
    try:
        ctx = create_context(settings)
        upgrade(ctx.engine)
        polling.sync_sources(ctx)
        seed_demo(ctx)
        # The steering group's addresses come too: `drivers remind` beside the demo said
        # "No address: FG, JC, JW, LK, VT" and sent no stewardship mail.
        assert {m.initials for m in load_members(ctx)} == {"FG", "JC", "JW", "LK", "VT"}
        ids = [s.id for s in ctx.sources()]
        baseline = polling.poll(ctx, ids)
        assert all(o.baseline and o.status == "ok" for o in baseline)
        for _ in range(3):
            polling.poll(ctx, ids)
        report = digests.send_digests(ctx)
        pending = review.list_matches(ctx, status="pending")
        demo_bulletin(ctx)
        demo_bulletin(ctx)  # once sent, the demo leaves the next issue to the editor
        issues = bulletins.issues(ctx, "weekly")
        feed = feedparser.parse(bulletins.atom(ctx, "weekly"))
        ctx.dispose()
    finally:
        feeds.stop()
    printed = capsys.readouterr().out
    assert "demo-librarian" in printed and "/topics" in printed and "/bulletins" in printed
    assert f"{settings.base_url}/preferences/" in printed  # the confirmed sign-up
    # The line that points the command line at the demo gives the demo's own settings.
    [line] = [line for line in printed.splitlines() if "awareness review list" in line]
    given = dict(word.split("=", 1) for word in shlex.split(line)[:-3])
    # The command as it ran, from any folder: the banner said `.venv/bin/awareness`, which
    # works only from the project's own (here pytest runs, so it is `awareness`).
    assert shlex.split(line)[-3] == this_command() == "awareness"
    beside = load_settings(environ={**env, **given}, cwd=tmp_path)
    assert (beside.database.url, beside.paths.subscriptions, beside.mail.outbox,
            beside.fetch.allowed_hosts, beside.base_url) == (
        settings.database.url, settings.paths.subscriptions, settings.mail.outbox,
        settings.fetch.allowed_hosts, settings.base_url)
    outbox = [message_from_bytes(path.read_bytes(), policy=policy.default)
              for path in (tmp_path / "var" / "demo" / "outbox").glob("*.eml")]
    assert [(i.number, i.status) for i in issues] == [(2, "draft"), (1, "sent")]
    assert [e.link for e in feed.entries] == [f"{settings.base_url}/bulletins/weekly/1"]
    [bulletin] = [m for m in outbox if str(m["Subject"]).startswith("Library weekly bulletin")]
    assert bulletin["To"] == DEMO_READER
    assert "Digital health" in bulletin.get_body(("plain",)).get_content()
    outbox.remove(bulletin)
    assert report.sent == len(outbox)
    subjects = {(m["To"], str(m["Subject"])) for m in outbox}
    assert (DEMO_STAFF, "Confirm your current awareness digests") in subjects
    assert any(to == DEMO_STAFF and "Your current awareness digests" in subject
               for to, subject in subjects), "the welcome, once confirmed"
    [message] = [m for m in outbox if m["To"] == DEMO_READER]
    assert "NHS England" in message.get_body(("plain",)).get_content()
    assert pending, "leadership items wait on the review page"
    assert any(m.drivers for m in pending), "and link to the imported driver records"
    kinds = {(d.slug, d.kind) for m in pending for d in m.drivers}
    assert ("state-of-care-2013-14", "new_edition") in kinds  # State of Care 2024/25


def test_the_demo_moves_only_the_default_sqlite_file_into_its_folder(tmp_path):
    env = settings_env(tmp_path, "")
    del env["AWARENESS_DATABASE_URL"]
    defaults = load_settings(environ={**env, "AWARENESS_PATHS_DATA": "var"}, cwd=tmp_path)
    assert defaults.database.url == f"sqlite:///{tmp_path / 'var' / 'awareness.db'}"
    assert demo_database_url(defaults) == f"sqlite:///{tmp_path / 'var' / 'demo' / 'awareness.db'}"
    chosen = load_settings(environ={**env, "AWARENESS_DATABASE_URL": "sqlite:///mine.db"},
                           cwd=tmp_path)
    assert demo_database_url(chosen) == f"sqlite:///{tmp_path / 'mine.db'}"
    postgres = "postgresql+psycopg://someone@db.example/awareness"
    assert demo_database_url(load_settings(
        environ={**env, "AWARENESS_DATABASE_URL": postgres}, cwd=tmp_path)) == postgres


def test_the_demo_outside_the_project_says_where_it_looked_for_topics(tmp_path):
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'a.db'}",
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(tmp_path / "subscriptions"))
    result = CliRunner().invoke(cli, ["run", "--demo"], env=env)
    assert isinstance(result.exception, ConfigError), result.output
    assert str(result.exception).startswith(f"{tmp_path / 'subscriptions' / 'topics'}: ")
    assert "paths.subscriptions" in str(result.exception)
    assert not (tmp_path / "var" / "demo").exists(), "nothing is started or made"


def test_run_refuses_a_role_its_settings_cannot_serve(tmp_path):
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'a.db'}")
    runner = CliRunner()
    worker = runner.invoke(cli, ["run", "--role", "worker"], env=env)
    assert worker.exit_code == 2 and "[queue] enabled" in worker.output
    demo = runner.invoke(cli, ["run", "--demo", "--role", "web"], env=env)
    assert demo.exit_code == 2 and "leave out --role" in demo.output
    unknown = runner.invoke(cli, ["run", "--role", "everything"], env=env)
    assert unknown.exit_code == 2 and "'all', 'web', 'scheduler', 'worker'" in unknown.output


def test_run_serves_the_web_app_and_stops_cleanly(tmp_path):
    # With a topic file broken before it starts: it starts, without that topic, and says so
    # once (it used to answer 400 with the file's path on /topics, and a traceback a minute).
    subs = tmp_path / "subscriptions"
    shutil.copytree(ROOT / "subscriptions", subs)
    (subs / "topics" / "digital.toml").write_text('name = "Digital"\ndescription = "d"\n'
                                                  'query = "digital AND"\n', encoding="utf-8")
    port = free_port()
    env = {**os.environ, **settings_env(tmp_path, f"sqlite:///{tmp_path / 'a.db'}"),
           "AWARENESS_WEB_PORT": str(port), "AWARENESS_PATHS_SUBSCRIPTIONS": str(subs)}
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
        assert health.json()["checks"]["files"]["ok"] is False
        login = httpx.get(f"http://127.0.0.1:{port}/review", timeout=5)
        assert login.status_code == 303 and "/login" in login.headers["location"]
        topics = httpx.get(f"http://127.0.0.1:{port}/topics", timeout=5)
        assert topics.status_code == 200 and 'for="pick-leadership"' in topics.text
        assert "digital.toml" not in topics.text
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "this process runs the scheduler" in output
    [broken] = [line for line in output.splitlines() if "digital.toml" in line]
    assert " ERROR " in broken and broken.endswith("nothing in it is used until it is fixed")
    # One log format: the web server's lines (starting, each request, stopping) carry the
    # time and the logger's name as the service's do.
    lines = output.splitlines()
    assert any("uvicorn.access" in line and "GET /healthz" in line for line in lines), output
    assert any(" INFO uvicorn: Started server process" in line for line in lines), output
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ", line)
               for line in lines), output


def wait_for_health(port: int, role: str) -> httpx.Response:
    """/healthz once the process answers with ``role`` (the election takes a moment)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            if health.json().get("role") == role:
                return health
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"no /healthz with role {role} on port {port}"
        time.sleep(0.2)


def test_the_web_and_scheduler_roles_split_the_work(tmp_path):
    env = {**os.environ, **settings_env(tmp_path, f"sqlite:///{tmp_path / 'a.db'}")}
    subprocess.run([sys.executable, "-m", "awareness", "init"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    ports = {"web": free_port(), "scheduler": free_port()}
    servers = {role: subprocess.Popen(
        [sys.executable, "-m", "awareness", "run", "--role", role],
        env={**env, "AWARENESS_WEB_PORT": str(port)}, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True) for role, port in ports.items()}
    try:
        web = wait_for_health(ports["web"], "web")
        assert web.status_code == 200 and "scheduler" not in web.json()["checks"]
        scheduler = wait_for_health(ports["scheduler"], "leader")
        assert scheduler.json()["checks"]["scheduler"]["ok"] is True
        pages = httpx.get(f"http://127.0.0.1:{ports['web']}/review", timeout=5)
        assert pages.status_code == 303  # to the login page
        assert httpx.get(f"http://127.0.0.1:{ports['scheduler']}/review",
                         timeout=5).status_code == 404  # no pages on the scheduler
    finally:
        for server in servers.values():
            server.send_signal(signal.SIGINT)
        outputs = {role: server.communicate(timeout=60)[0] for role, server in servers.items()}
    assert all(server.returncode == 0 for server in servers.values()), outputs
    assert "this process runs the scheduler" in outputs["scheduler"]
    assert "runs the scheduler" not in outputs["web"]


def test_the_banner_s_command_works_from_any_folder(tmp_path, monkeypatch):
    script = tmp_path / "venv bin" / "awareness"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path / "venv bin")
    monkeypatch.setattr(sys, "argv", ["./awareness", "run", "--demo"])
    assert shlex.split(this_command()) == [str(script.resolve())]
