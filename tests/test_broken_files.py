"""An edited file that cannot be read never stops the service silently (issue 16).

A topic file saved in Windows-1252 made `awareness check` exit with "unexpected
UnicodeDecodeError" and no file name; in a running service it, or a sources.toml broken while
the service ran, made every poll job fail while /healthz answered 200 "ok". A file already
broken when the service started then broke every page: visitors were shown its path and
problem, librarians a 500, and every job failed each minute with a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import httpx
import pytest

from awareness.cli import main
from awareness.errors import ConfigError
from awareness.service import file_alerts, polling
from awareness.service.checks import check_all, files_at_start
from awareness.service.context import create_context
from awareness.settings import load_settings
from awareness.toml_checks import decode_librarian_file
from awareness.web.app import create_app
from tests.conftest import ROOT, Response, settings_env
from tests.test_web import LiveServer, listening_socket, login, seed

CP1252_TOPIC = ('name = "Workforce"\ndescription = "Staff \u2013 retention"\n'
                'query = "nurse*"\n').encode("cp1252")
BROKEN_QUERY = 'name = "Digital"\ndescription = "d"\nquery = "digital AND"\n'
BROKEN_MEMBERS = '[[member]]\ninitials = FG\n'


def broken_at_start(folder: Path, *, sources: str = "", topics: bool = True) -> Path:
    """A copy of the shipped subscriptions/ with digital.toml and members.toml broken (and,
    unless ``topics``, leadership.toml too); ``sources`` is sources.toml's text."""
    (folder / "topics").mkdir(parents=True)
    leadership = (ROOT / "subscriptions" / "topics" / "leadership.toml").read_bytes()
    (folder / "topics" / "leadership.toml").write_bytes(leadership if topics else CP1252_TOPIC)
    (folder / "topics" / "digital.toml").write_text(BROKEN_QUERY, encoding="utf-8")
    (folder / "members.toml").write_text(BROKEN_MEMBERS, encoding="utf-8")
    (folder / "sources.toml").write_text(sources, encoding="utf-8")
    return folder


def test_a_file_in_another_encoding_is_an_error_at_its_line():
    with pytest.raises(ConfigError) as raised:
        decode_librarian_file(CP1252_TOPIC, "topics/workforce.toml")
    assert raised.value.located().startswith("topics/workforce.toml:2: not UTF-8 text")
    assert "save the file as UTF-8" in str(raised.value)
    assert decode_librarian_file("\ufeffname = 1".encode(), "x") == "name = 1"  # a BOM is fine


def test_check_names_the_file_and_line_of_a_windows_1252_topic(tmp_path: Path):
    folder = tmp_path / "subscriptions"
    (folder / "topics").mkdir(parents=True)
    (folder / "sources.toml").write_text("", encoding="utf-8")
    (folder / "topics" / "workforce.toml").write_bytes(CP1252_TOPIC)
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}",
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(folder))
    errors, _ = check_all(load_settings(environ=env, cwd=tmp_path))
    assert errors == [f"{folder / 'topics' / 'workforce.toml'}:2: not UTF-8 text (byte 0x96 "
                      "on this line): save the file as UTF-8 (in Notepad: File > Save as > "
                      "Encoding: UTF-8)"]


@pytest.mark.integration
def test_a_running_service_goes_on_with_the_last_good_files_and_says_so(
        make_context, feed_server, tmp_path):
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    leadership = (ROOT / "subscriptions" / "topics" / "leadership.toml").read_bytes()
    (subs / "topics" / "leadership.toml").write_bytes(leadership)
    sources = (f'[[source]]\nid = "news"\nname = "News"\npublisher = "NHS England"\n'
               f'kind = "feed"\nurl = "{feed_server.url("/news")}"\n')
    (subs / "sources.toml").write_text(sources, encoding="utf-8")
    feed_server.routes["/news"] = Response(b'<?xml version="1.0"?><rss version="2.0"><channel>'
                                           b"<item><title>One</title><link>https://e.nhs.uk/1"
                                           b"</link></item></channel></rss>")
    sock = listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs), AWARENESS_WEB_BASE_URL=url)
    seed(ctx)
    with LiveServer(create_app(ctx), sock), httpx.Client(base_url=url) as client:
        assert client.get("/healthz").status_code == 200
        assert [t.slug for t in ctx.topics()] == ["leadership"]

        (subs / "topics" / "leadership.toml").write_bytes(CP1252_TOPIC)
        (subs / "sources.toml").write_text(sources + "[[source]\n", encoding="utf-8")
        assert [t.slug for t in ctx.topics()] == ["leadership"]  # the last good version
        [outcome] = polling.poll(ctx, ["news"])  # polling goes on
        assert outcome.status == "ok"

        # Degraded, not unhealthy: a supervisor that restarts on 503 would restart the
        # service without the last good version it goes on with.
        health = client.get("/healthz")
        assert (health.status_code, health.json()["status"]) == (200, "degraded")
        assert health.json()["checks"]["files"]["ok"] is False
        assert "cannot be read" in health.json()["checks"]["files"]["detail"]
        assert "leadership.toml" not in health.text  # public: no paths
        assert login(client).status_code == 303
        page = client.get("/review").text
        assert "Edited files cannot be read" in page  # two of them
        assert "leadership.toml:2: not UTF-8 text" in page
        assert "sources.toml" in page
        assert page.count("The service goes on with the version before the edit.") == 2

        (subs / "topics" / "leadership.toml").write_bytes(leadership)
        (subs / "sources.toml").write_text(sources, encoding="utf-8")
        assert client.get("/healthz").json()["status"] == "ok"
        assert "cannot be read" not in client.get("/review").text


def test_a_topic_file_with_five_mistakes_shows_all_five(tmp_path: Path):
    folder = tmp_path / "subscriptions"
    (folder / "topics").mkdir(parents=True)
    (folder / "sources.toml").write_text("", encoding="utf-8")
    (folder / "topics" / "workforce.toml").write_text(
        'name = ""\n'                      # 1: empty name
        'descripton = "typo"\n'            # 2: unknown key
        'query = "nurse AND"\n'            # 3: a query that ends too soon
        'review = "sometimes"\n'           # 4: not a review policy
        '[[examples]]\n'
        'title = "Nurses"\nexpect = "yes"\n',  # 7: not an expectation
        encoding="utf-8")
    (folder / "topics" / "other.toml").write_text(
        'name = "Leadership"\ndescription = "d"\nquery = "leader*"\n', encoding="utf-8")
    (folder / "topics" / "same.toml").write_text(
        'name = "leadership"\ndescription = "d"\nquery = "manag*"\n', encoding="utf-8")
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}",
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(folder))
    errors, _ = check_all(load_settings(environ=env, cwd=tmp_path))
    path = folder / "topics" / "workforce.toml"
    lines = "\n".join(errors).splitlines()
    # The five, and what the typo also means: the required description is missing.
    assert [line.split(": ", 1)[0] for line in lines if line.startswith(str(path))] == [
        f"{path}:1", f"{path}:2", f"{path}:3", f"{path}:4", f"{path}:7", f"{path}"]
    assert f"{path}: missing required key 'description'" in lines
    assert any("unknown key 'descripton'; did you mean 'description'?" in e for e in lines)
    assert any(e.startswith(f"{folder / 'topics' / 'same.toml'}: name 'leadership' is already "
                            f"the name of {folder / 'topics' / 'other.toml'}") for e in lines)


@pytest.mark.integration
def test_the_sources_owner_is_told_once_a_day_about_an_unreadable_file(
        make_context, smtp_server, tmp_path, clock):
    from awareness.service import file_alerts, outbox

    controller, inbox = smtp_server
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    good = (ROOT / "subscriptions" / "topics" / "leadership.toml").read_bytes()
    (subs / "topics" / "leadership.toml").write_bytes(good)
    (subs / "sources.toml").write_text("", encoding="utf-8")
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs),
                       AWARENESS_SOURCES_OWNER_EMAIL="owner@library.nhs.uk",
                       AWARENESS_MAIL_BACKEND="smtp", AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                       AWARENESS_MAIL_SMTP_PORT=str(controller.port))
    assert file_alerts.alert_unreadable_files(ctx) == 0  # nothing wrong, nothing sent
    ctx.topics()
    (subs / "topics" / "leadership.toml").write_bytes(CP1252_TOPIC)
    assert file_alerts.alert_unreadable_files(ctx) == 1
    assert file_alerts.alert_unreadable_files(ctx) == 0  # the next poll: already told today
    outbox.relay(ctx)
    [(_, recipients, data)] = inbox.messages
    assert recipients == ["owner@library.nhs.uk"]
    text = data.decode("ascii", "replace")
    assert "Subject: A file under subscriptions/ cannot be read: leadership.toml" in text
    clock.advance(days=1)
    assert file_alerts.alert_unreadable_files(ctx) == 1  # still broken the next day: again
    (subs / "topics" / "leadership.toml").write_bytes(good)
    clock.advance(days=1)
    assert file_alerts.alert_unreadable_files(ctx) == 0  # fixed: nothing more


def test_check_blames_a_broken_file_and_not_the_files_that_name_what_it_holds(tmp_path: Path):
    # leadership.toml's query cannot be read and sources.toml has a typo of its own: the
    # bulletin naming leadership and the topic naming a source are not wrong because of it.
    folder = tmp_path / "subscriptions"
    (folder / "topics").mkdir(parents=True)
    (folder / "bulletins").mkdir()
    (folder / "sources.toml").write_text(
        '[[source]]\nid = "news"\nname = "News"\npublisher = "NHS England"\nkind = "feed"\n'
        'url = "https://www.england.nhs.uk/feed/"\nkidn = "feed"\n', encoding="utf-8")
    (folder / "topics" / "leadership.toml").write_text(
        'name = "Leadership"\ndescription = "d"\nquery = "leader* OR (talent AND OR x)"\n',
        encoding="utf-8")
    (folder / "topics" / "digital.toml").write_text(
        'name = "Digital"\ndescription = "d"\nquery = "digital"\nsources = ["news"]\n',
        encoding="utf-8")
    weekly = (ROOT / "subscriptions" / "bulletins" / "weekly.toml").read_text(encoding="utf-8")
    (folder / "bulletins" / "weekly.toml").write_text(weekly, encoding="utf-8")
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}",
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(folder))
    errors, _ = check_all(load_settings(environ=env, cwd=tmp_path))
    blamed = sorted({Path(error.split(":", 1)[0]).name for error in errors})
    assert blamed == ["leadership.toml", "sources.toml"], errors


@pytest.mark.integration
def test_a_service_started_with_broken_files_goes_on_with_the_rest_and_says_so(
        make_context, tmp_path, caplog):
    # Started with a broken topic file (and members.toml): /topics answered 400 with the
    # file's path and problem to anyone, every librarian page was a 500, /healthz named the
    # check "<lambda>", and only the first broken file was ever mentioned.
    subs = broken_at_start(tmp_path / "subs")
    sock = listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs), AWARENESS_WEB_BASE_URL=url,
                       AWARENESS_SOURCES_OWNER_EMAIL="owner@library.nhs.uk")
    seed(ctx)
    with caplog.at_level(logging.ERROR):
        problems = files_at_start(ctx)  # as `awareness run` does: it starts
    assert [p.path.name for p in problems] == ["digital.toml", "members.toml"]
    assert [t.slug for t in ctx.topics()] == ["leadership"]  # the files it can read
    assert ctx.members() == ()
    with LiveServer(create_app(ctx), sock), httpx.Client(base_url=url) as client:
        catalogue = client.get("/topics")
        assert catalogue.status_code == 200
        assert 'for="pick-leadership"' in catalogue.text
        assert 'for="pick-digital"' not in catalogue.text
        assert str(tmp_path) not in catalogue.text and "cannot be read" not in catalogue.text
        health = client.get("/healthz")
        assert (health.status_code, health.json()["status"]) == (200, "degraded")
        assert health.json()["checks"]["files"]["ok"] is False
        assert str(tmp_path) not in health.text
        assert login(client).status_code == 303
        for path in ("/review", "/dashboard", "/topics/manage", "/drivers/attention"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert "Edited files cannot be read" in page.text, path
            assert f"{subs / 'topics' / 'digital.toml'}:3: query" in page.text, path
            assert f"{subs / 'members.toml'}:2: not valid TOML" in page.text, path
            assert "This topic is left out until the file is fixed" in page.text, path
            assert "nobody is sent a weekly list" in page.text, path
        assert polling.poll(ctx, []) == []  # the jobs go on
        assert file_alerts.alert_unreadable_files(ctx) == 2  # the owner is told, once a day
        assert file_alerts.alert_unreadable_files(ctx) == 0
    # Each file is logged once, in one line, however often the pages and jobs read it.
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert logged == [f"{subs / 'topics' / 'digital.toml'}:3: query: dangling operator: "
                      "expected a term, phrase or '(' after AND, found the end of the query "
                      "(column 9); nothing in it is used until it is fixed",
                      f"{subs / 'members.toml'}:2: not valid TOML: Invalid value; nothing "
                      "in it is used until it is fixed"]


@pytest.mark.integration
def test_visitors_are_told_to_come_back_when_no_topic_can_be_read(make_context, tmp_path):
    subs = broken_at_start(tmp_path / "subs", topics=False)
    sock = listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs), AWARENESS_WEB_BASE_URL=url)
    seed(ctx)
    with LiveServer(create_app(ctx), sock), httpx.Client(base_url=url) as client:
        for path in ("/topics", "/subscribe"):
            page = client.get(path)
            assert page.status_code == 503, path
            assert page.headers["retry-after"] == "600"
            assert "The topics are being updated" in page.text
            assert "Please try again later" in page.text
            assert str(tmp_path) not in page.text and "toml" not in page.text
        assert login(client).status_code == 303
        page = client.get("/topics").text  # a librarian is told why
        assert "leadership.toml:2: not UTF-8 text" in page and "digital.toml:3" in page


def test_run_refuses_to_start_without_sources_and_names_every_broken_file(
        tmp_path, monkeypatch, capsys):
    # Nothing to poll: `awareness run` stops at once, before the database is touched, with
    # every problem of every file (it used to name sources.toml's alone) and the fix.
    subs = broken_at_start(tmp_path / "subs", sources="[[source]\n")
    database = tmp_path / "never.db"
    env = settings_env(tmp_path, f"sqlite:///{database}", AWARENESS_PATHS_SUBSCRIPTIONS=str(subs))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["awareness", "run"])
    with pytest.raises(SystemExit) as stopped:
        main()
    lines = capsys.readouterr().err.splitlines()
    assert stopped.value.code == 2
    assert [line.split(": ", 2)[1].rsplit(":", 1)[0] for line in lines
            if line.startswith(f"error: {subs}")] == [
        str(subs / "sources.toml"), str(subs / "topics" / "digital.toml"),
        str(subs / "members.toml")]
    assert lines[-1] == ("error: the service cannot start without the sources it polls: fix "
                         "sources.toml and start it again (`awareness check` lists every "
                         "problem)")
    assert not database.exists()


def test_a_command_refuses_an_unreadable_file_naming_every_one(tmp_path):
    # A command run by hand stops rather than go on without a file, and names them all.
    subs = broken_at_start(tmp_path / "subs", topics=False)
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}",
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(subs))
    ctx = create_context(load_settings(environ=env, cwd=tmp_path), refuse_unreadable=True)
    with pytest.raises(ConfigError) as refused:
        ctx.topics()
    located = refused.value.located()
    assert "digital.toml:3: query" in located and "leadership.toml:2: not UTF-8" in located
    ctx.dispose()
