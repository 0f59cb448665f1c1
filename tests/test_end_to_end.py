"""End to end through the real CLI: init → import drivers → poll → approve → send.

Real parts only: the CLI runs as a subprocess, feeds come from an HTTP server on 127.0.0.1,
digests go to an aiosmtpd server on 127.0.0.1 and are parsed back with the strict policy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from email import message_from_bytes, policy

import pytest
from sqlalchemy import create_engine

from awareness.cli import main
from awareness.storage.db import HEADS, current_revision
from tests.conftest import DATA, ROOT, Response, free_port, settings_env

pytestmark = pytest.mark.integration  # every test runs the command line in a process

LEADERSHIP_ITEM = (
    "NHS sets out compassionate leadership programme for senior managers",
    "A new national programme will support senior managers and boards to build a "
    "compassionate, inclusive leadership culture across NHS trusts.",
)


def rss(*items: tuple[str, str, str]) -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>https://www.england.nhs.uk/{slug}/</link>"
        f"<guid>https://www.england.nhs.uk/?p={slug}</guid>"
        f"<pubDate>Mon, 23 Nov 2026 00:01:00 +0000</pubDate>"
        f"<description><![CDATA[{d} [&#8230;]]]></description></item>"
        for slug, t, d in items
    )
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>News – NHS England'
            f"</title>{body}</channel></rss>").encode()


@pytest.fixture
def deployment(tmp_path, empty_database_url, feed_server, smtp_server):
    controller, inbox = smtp_server
    subs = tmp_path / "subscriptions"
    shutil.copytree(ROOT / "subscriptions" / "topics", subs / "topics")
    (subs / "sources.toml").write_text(
        '[[source]]\nid = "nhs-england-news"\nname = "NHS England news"\n'
        'publisher = "NHS England"\nkind = "feed"\n'
        f'url = "{feed_server.url("/news/feed/")}"\n', encoding="utf-8")
    env = {**os.environ, **settings_env(
        tmp_path, empty_database_url, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs),
        AWARENESS_MAIL_BACKEND="smtp", AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
        AWARENESS_MAIL_SMTP_PORT=str(controller.port),
        AWARENESS_WEB_BASE_URL="https://library.example.nhs.uk/awareness")}

    def awareness(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "awareness", *args], env=env,
                                cwd=tmp_path, capture_output=True, text=True, timeout=120)
        if ok:
            assert result.returncode == 0, result.stderr + result.stdout
        return result

    return awareness, feed_server, inbox


def test_pipeline_from_feed_to_inbox(deployment):
    awareness, feeds, inbox = deployment
    awareness("init")
    imported = awareness("drivers", "import", str(DATA / "map-toolkit-leadership-tag-page.txt"))
    assert "imported 7 drivers and 1 case study" in imported.stdout
    awareness("subscribers", "add", "staff.member@trust.nhs.uk", "--topic", "leadership",
              "--frequency", "weekly")
    # Someone a librarian subscribes is told, with their preference link, at the next send.
    awareness("digests", "send")
    [(_, recipients, raw)] = inbox.messages
    welcome = message_from_bytes(raw, policy=policy.strict)
    assert recipients == ["staff.member@trust.nhs.uk"]
    assert welcome["Subject"].startswith("Your current awareness digests")
    assert "https://library.example.nhs.uk/awareness/preferences/" in (
        welcome.get_body(("plain",)).get_content())
    inbox.messages.clear()

    # First poll is a baseline: a leadership item already in the feed raises no alert.
    feeds.routes["/news/feed/"] = Response(rss(
        ("old-leadership", "Leadership in today’s NHS", "Leadership vacancies are widespread.")))
    assert "baseline" in awareness("poll", "--all").stderr
    assert json.loads(awareness("review", "list", "--json").stdout) == []

    feeds.routes["/news/feed/"] = Response(rss(
        ("old-leadership", "Leadership in today’s NHS", "Leadership vacancies are widespread."),
        ("leadership-programme", *LEADERSHIP_ITEM),
        ("flu", "NHS issues flu jab SOS with worst of winter only weeks away",
         "People eligible for a flu vaccine are urged to come forward."),
    ))
    polled = awareness("poll", "--all").stderr
    assert "nhs-england-news: 2 new, 0 updated, 1 match\n" in polled, polled
    [health] = json.loads(awareness("sources", "list", "--json").stdout)
    assert (health["id"], health["state"], health["error_count"], health["items"]) == (
        "nhs-england-news", "active", 0, 3)
    items = json.loads(awareness("items", "list", "--json").stdout)
    assert len(items) == 3 and {i["baseline"] for i in items} == {True, False}
    pending = json.loads(awareness("review", "list", "--json").stdout)
    assert [m["title"] for m in pending] == [LEADERSHIP_ITEM[0]]
    assert pending[0]["drivers"], "a leadership item links to the leadership driver records"
    driver_slug = pending[0]["drivers"][0]["slug"]

    # Nothing goes out before a librarian approves.
    awareness("digests", "send")
    assert inbox.messages == []

    awareness("review", "approve", str(pending[0]["id"]))
    sent = awareness("digests", "send")
    assert "sent 1" in sent.stdout
    assert len(inbox.messages) == 1
    _, recipients, raw = inbox.messages[0]
    assert recipients == ["staff.member@trust.nhs.uk"]
    message = message_from_bytes(raw, policy=policy.strict)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://library.example.nhs.uk/awareness/")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert LEADERSHIP_ITEM[0] in part
        assert "https://www.england.nhs.uk/leadership-programme/" in part
        assert f"https://library.example.nhs.uk/awareness/drivers/{driver_slug}" in part
    assert "flu jab" not in text

    # A second send in the same period sends nothing.
    again = awareness("digests", "send")
    assert "sent 0" in again.stdout
    assert len(inbox.messages) == 1


def test_errors_are_one_line_without_traceback(deployment):
    awareness, _, _ = deployment
    # A command before `awareness init` says to run it, not what SQL failed.
    early = awareness("review", "list", ok=False)
    assert (early.returncode, early.stderr) == (1, (
        "error: the database is not ready: schema at nothing, expected "
        f"{','.join(HEADS)}: run `awareness init`\n"))
    awareness("init")
    result = awareness("review", "approve", "999", ok=False)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: no match 999")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    bad = awareness("subscribers", "add", "a@b.nhs.uk", "--topic", "nope", ok=False)
    assert "no topic 'nope'" in bad.stderr and "leadership" in bad.stderr
    # A source that fails is said once, as a line of the poll's output, not again as a log
    # warning; the exit status says something failed.
    failing = awareness("poll", "--all", ok=False)
    assert failing.returncode == 1
    assert [line for line in failing.stderr.splitlines() if "404" in line] == [
        "nhs-england-news: HTTP 404"], failing.stderr
    assert "" not in failing.stderr.splitlines(), failing.stderr  # nothing the bar left


def test_check_reports_path_and_line(tmp_path):
    subs = tmp_path / "subscriptions"
    (subs / "topics").mkdir(parents=True)
    shutil.copy(ROOT / "subscriptions" / "sources.toml", subs / "sources.toml")
    (subs / "topics" / "broken.toml").write_text(
        'name = "Broken"\ndescription = "x"\nreview = "none"\nquery = "(leader* OR manag*"\n')
    result = subprocess.run([sys.executable, "-m", "awareness", "check"], cwd=tmp_path,
                            capture_output=True, text=True,
                            env={**os.environ, "AWARENESS_PATHS_DATA": str(tmp_path / "var")})
    assert result.returncode == 2
    assert f"{subs / 'topics' / 'broken.toml'}:4:" in result.stdout


def test_check_passes_on_the_shipped_subscriptions(tmp_path):
    result = subprocess.run([sys.executable, "-m", "awareness", "check"], cwd=ROOT,
                            capture_output=True, text=True,
                            env={**os.environ, "AWARENESS_PATHS_DATA": str(tmp_path / "var")})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: settings and subscriptions are valid" in result.stdout
    # Valid, but its steering group's addresses are placeholders: said, without failing.
    assert ("members.toml:12: FG's address fg.example@example.nhs.uk is a placeholder: "
            "stewardship mail to it goes nowhere") in result.stdout


@pytest.mark.db
@pytest.mark.parametrize("url", ["postgresql+psycopg://aw:pg-pass-word@127.0.0.1:{port}/aw",
                                 "sqlite:////proc/awareness.db"])
@pytest.mark.parametrize("command", [["review", "list"], ["run"]])
def test_a_database_out_of_reach_is_one_line_with_the_fix(url, command, tmp_path, monkeypatch,
                                                          capsys):
    # The entry point itself, in this process: a port nothing listens on, a folder that
    # cannot be written. No password reaches the terminal. `awareness run` (`make run`)
    # said "error: unexpected OperationalError: …" and a link to SQLAlchemy's pages.
    url = url.format(port=free_port())
    for name, value in settings_env(tmp_path, url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["awareness", *command])
    with pytest.raises(SystemExit) as stopped:
        main()
    [line] = capsys.readouterr().err.splitlines()
    assert stopped.value.code == 1
    assert line.startswith("error: cannot reach the database ")
    assert "check [database] url (AWARENESS_DATABASE_URL)" in line
    assert "pg-pass-word" not in line and "SELECT" not in line


@pytest.mark.parametrize(("argv", "words", "help_of"), [
    (["nosuch"], "nosuch", "awareness"),
    (["poll", "--bogus"], "--bogus", "awareness poll"),
    (["items", "list", "--limit", "x"], "'x' is not a valid integer", "awareness items list"),
])
def test_a_command_line_mistake_is_one_error_line(argv, words, help_of, monkeypatch, capsys):
    # As every other error is (README): not click's usage block with a capitalised "Error:".
    monkeypatch.setattr(sys, "argv", ["awareness", *argv])
    with pytest.raises(SystemExit) as stopped:
        main()
    [line] = capsys.readouterr().err.splitlines()
    assert stopped.value.code == 2
    assert line.startswith("error: ") and words in line, line
    assert line.endswith(f"(see `{help_of} --help`)"), line


def test_init_without_sources_stops_before_the_schema_changes(tmp_path, empty_database_url,
                                                               monkeypatch, capsys):
    # A folder with no subscriptions/sources.toml: `awareness init` names the file and leaves
    # the database as it found it, not half set up.
    (tmp_path / "subscriptions").mkdir()
    env = settings_env(tmp_path, empty_database_url,
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(tmp_path / "subscriptions"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["awareness", "init"])
    with pytest.raises(SystemExit) as stopped:
        main()
    [line] = capsys.readouterr().err.splitlines()
    assert stopped.value.code == 2
    assert "sources.toml is missing" in line
    engine = create_engine(empty_database_url)
    try:
        assert current_revision(engine) is None
    finally:
        engine.dispose()
