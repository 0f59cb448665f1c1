"""Roles (issue 14, item 6; docs/web.md "Roles"): reviewer, editor, administrator, on the
pages, the JSON API and the command line, over a real server on 127.0.0.1.

One site serves the whole matrix (each role signs in once): what each role may open and post,
the 403 page for the rest, the navigation that hides what a role cannot do, role changes on
the administrators' page and on the command line with their history, the settings page
without secrets, and migration 0017 turning every earlier account into an administrator
(and keeping one account per single sign-on subject).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from sqlalchemy import Connection, column, insert, select, table, text
from sqlalchemy.exc import IntegrityError

from awareness.cli import cli
from awareness.errors import ConfigError
from awareness.roles import allows, role_for_groups
from awareness.service import api_tokens, librarians
from awareness.service.context import Context
from awareness.settings import SETTINGS, effective_values, load_settings
from awareness.storage import librarians as stored_librarians
from awareness.storage.db import MIGRATIONS, make_engine
from awareness.storage.models import Librarian, Source, UTCDateTime
from tests.conftest import orm_session, settings_env
from tests.test_web import PASSWORD, csrf_of, login, running_site

WHEN = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
SECRET = "a-very-secret-signing-key-that-must-not-show"
RECORD = "interim-nhs-people-plan"
# (path, the role it needs) for pages; every librarian GET not named needs a reviewer.
GETS = [("/dashboard", "reviewer"), ("/review", "reviewer"), ("/sources", "reviewer"),
        ("/subscribers", "reviewer"), ("/bulletins", "reviewer"), ("/sends", "reviewer"),
        (f"/drivers/{RECORD}/edit", "editor"), ("/subscribers/new", "editor"),
        ("/librarians", "administrator"), ("/settings", "administrator")]


def test_roles_are_ordered_and_groups_give_the_highest() -> None:
    assert allows("administrator", "editor") and allows("editor", "reviewer")
    assert not allows("reviewer", "editor") and not allows("editor", "administrator")
    assert not allows("superuser", "reviewer")  # a value edited in by hand grants nothing
    mapping = {"g1": "reviewer", "g2": "editor", "g3": "nonsense"}
    assert role_for_groups(["g1", "g2", "x"], mapping) == "editor"
    assert role_for_groups(["g3", "x"], mapping) is None
    assert role_for_groups([], mapping) is None


def test_the_settings_page_values_hide_secrets_and_url_passwords(tmp_path: Path) -> None:
    settings = load_settings(environ={
        "AWARENESS_DATABASE_URL": "postgresql+psycopg://aw:pg-pass-word@db.internal/aw",
        "AWARENESS_SSO_CLIENT_SECRET": "idp-secret",
        "AWARENESS_SSO_ROLES": "g1=editor, g2=reviewer", "AWARENESS_WEB_SECRET_KEY": ""},
        cwd=tmp_path)
    shown = {f"{s.section}.{s.key}": text for s, text in effective_values(settings)}
    assert shown["database.url"] == "postgresql+psycopg://aw:***@db.internal/aw"
    assert shown["sso.client_secret"] == "set" and shown["web.secret_key"] == "not set"
    assert shown["sso.roles"] == "g1=editor, g2=reviewer"
    assert len(shown) == len(SETTINGS)
    with pytest.raises(ConfigError, match="AWARENESS_SSO_ROLES: expected GROUP=ROLE"):
        load_settings(environ={"AWARENESS_SSO_ROLES": "g1=king"}, cwd=tmp_path)


ROLE_NAMES = {"reviewer": "rita", "editor": "eddie", "administrator": "alice"}


def _signed_in(url: str, name: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    assert login(client, name).status_code == 303
    return client, csrf_of(client.get("/dashboard").text)


@pytest.mark.integration
def test_each_role_may_what_it_may_and_gets_403_for_the_rest(
        make_context: Callable[..., Context]) -> None:
    with running_site(make_context, AWARENESS_WEB_SECRET_KEY=SECRET,
                      AWARENESS_SSO_CLIENT_SECRET="idp-secret-value") as site:
        ctx = site.ctx
        with orm_session(ctx) as session, session.begin():
            session.add(Source(id="loopback", name="Loopback", publisher="Us",
                               url="https://example.org/feed", kind="feed"))
        librarians.add_librarian(ctx, "rita", PASSWORD, role="reviewer", by="alice")
        librarians.add_librarian(ctx, "eddie", PASSWORD, role="editor", by="alice")
        clients = {role: _signed_in(site.url, name) for role, name in ROLE_NAMES.items()}
        for role, (client, _) in clients.items():
            for path, needed in GETS:
                answer = client.get(path)
                assert answer.status_code == (200 if allows(role, needed) else 403), (role, path)
                if answer.status_code == 403:
                    assert f"needs the {needed} role" in answer.text
                    # whom to ask, by name: a reviewer cannot open the Librarians page
                    assert "ask an administrator (alice, bob) to change your role" in answer.text
                    assert f"signed in as a{'n' if role[0] in 'ae' else ''} {role}" in answer.text
                    # in the librarians' layout: their navigation and the way to sign out
                    assert "Sign out</button>" in answer.text, (role, path)
                    assert (f'Signed in as <span class="who-name" title="{ROLE_NAMES[role]}">'
                            f'{ROLE_NAMES[role]}</span> ({role})') in answer.text, (role, path)
            review = client.get("/review").text
            assert ("/librarians" in review) == (role == "administrator"), role
            assert ("Draft a driver record" in review) == allows(role, "editor"), role
            sources = client.get("/sources").text
            assert ("/sources/loopback/pause" in sources) == allows(role, "editor"), role
            record = client.get(f"/drivers/{RECORD}").text
            assert (f"/drivers/{RECORD}/edit" in record) == allows(role, "editor"), role

        # A reviewer reviews, and is refused an editor's and an administrator's POST before
        # anything changes.
        client, token = clients["reviewer"]
        assert client.post(f"/review/{site.ids['good']}/approve",
                           data={"csrf": token}).status_code == 303
        before = site.snapshot()
        for path in ("/sources/loopback/pause", f"/drivers/{RECORD}/delete",
                     f"/drivers/{RECORD}/restore",
                     f"/review/{site.ids['hostile']}/draft", "/sends/1/retry",
                     "/librarians/bob/role"):
            assert client.post(path, data={"csrf": token, "role": "reviewer"}).status_code \
                == 403, path
        assert site.snapshot() == before

        # An editor pauses a source and edits a record; not a librarian's role.
        client, token = clients["editor"]
        assert client.post("/sources/loopback/pause", data={"csrf": token}).status_code == 303
        assert client.post(f"/drivers/{RECORD}/edit",
                           data={"csrf": token, "title": "Interim NHS People Plan (2019)"}
                           ).status_code == 303
        assert client.post("/librarians/rita/role",
                           data={"csrf": token, "role": "administrator"}).status_code == 403

        # An administrator changes rita's role: it applies at her next click, and the
        # history says who did it. Nobody changes their own role.
        client, token = clients["administrator"]
        assert client.post("/librarians/rita/role",
                           data={"csrf": token, "role": "editor"}).status_code == 303
        assert client.post("/librarians/alice/role",
                           data={"csrf": token, "role": "reviewer"}).status_code == 403
        assert client.post("/librarians/rita/role",
                           data={"csrf": token, "role": "king"}).status_code == 400
        page = client.get("/librarians").text
        assert "reviewer → editor" in page and "Added as editor" in page
        assert clients["reviewer"][0].get(f"/drivers/{RECORD}/edit").status_code == 200

        # The settings page: values in force, secrets only as "set".
        settings = client.get("/settings").text
        assert "AWARENESS_WEB_SECRET_KEY" in settings and "AWARENESS_SSO_CLIENT_SECRET" in settings
        assert SECRET not in settings and "idp-secret-value" not in settings
        assert site.url in settings  # web.base_url, not a secret

        # An API token acts with its librarian's role, read at each request.
        token_text, _ = api_tokens.create(ctx, "eddie", "test")
        with httpx.Client(base_url=site.url, timeout=30) as api:
            bearer = {"authorization": f"Bearer {token_text}"}
            assert api.get("/api/v1/topics", headers=bearer).status_code == 200
            with orm_session(ctx) as session, session.begin():
                row = session.scalars(select(Librarian).where(Librarian.name == "eddie")).one()
                row.role = "retired"  # a role no longer known: the token may nothing
            refused = api.get("/api/v1/topics", headers=bearer)
            assert refused.status_code == 403 and "needs the reviewer role" in refused.json()[
                "error"]
        for client, _ in clients.values():
            client.close()


def run(database_url: str, tmp_path: Path, *args: str, stdin: str = "") -> str:
    result = CliRunner().invoke(cli, list(args), env=settings_env(tmp_path, database_url),
                                input=stdin)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_adding_a_librarian_refuses_before_asking_for_a_password(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    ctx = make_context()
    librarians.add_librarian(ctx, "rita", PASSWORD, role="reviewer")
    env = settings_env(tmp_path, database_url)
    for args, message in [
            (["x"], "librarian names are 2-100 letters"),
            (["rita"], "librarian 'rita' already exists"),
            (["sam", "--email", "sam at nhs.net"],
             "'sam at nhs.net' is not an e-mail address: it contains white space"),
            (["sam", "--email", "sam.@nhs.net"],  # the one address check, as for staff
             "'sam.@nhs.net' is not an e-mail address: the part before the '@' starts or ends")]:
        result = CliRunner().invoke(cli, ["librarians", "add", *args], env=env, input="")
        assert result.exit_code == 1 and message in str(result.exception), result.output
        assert "Password" not in result.output, args  # nobody was asked to type one
    assert [a.name for a in librarians.everyone(ctx)] == ["rita"]


def test_a_name_taken_again_does_not_fit_its_old_holders_cookies(
        make_context: Callable[..., Context]) -> None:
    # Single sign-on renames an account whose user name changed at the provider; a new
    # account may later get the old name. A cookie carries (name, session version): the new
    # holder's sessions start past any version the old holder's cookies could carry.
    ctx = make_context()
    issuer = "https://login.example/tenant/v2.0"
    librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "reviewer", "", f"{issuer} sub-1")
    old_cookie = librarians.session_version(ctx, "jo@trust.nhs.uk")
    librarians.sign_in_from_sso(ctx, "jo.b@trust.nhs.uk", "reviewer", "", f"{issuer} sub-1")
    assert librarians.session_version(ctx, "jo@trust.nhs.uk") is None  # renamed
    librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "editor", "", f"{issuer} sub-2")
    taken_again = librarians.session_version(ctx, "jo@trust.nhs.uk")
    assert old_cookie is not None and taken_again is not None and taken_again > old_cookie


def test_two_first_sign_ins_of_one_identity_at_once_make_one_account(
        make_context: Callable[..., Context], database_url: str) -> None:
    # The same person's first single sign-on arrives twice at once (two tabs, a retried
    # redirect). On PostgreSQL both transactions see no account and both insert one; the
    # second insert waits on the first's key and then fails. It must end in a sign-in, not
    # a 500. (SQLite's writers queue at BEGIN IMMEDIATE, so the two never overlap there.)
    if not database_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL runs two writers at once")
    ctx = make_context()
    subject, name = "https://login.example/tenant/v2.0 sub-twice", "kim@trust.nhs.uk"
    done: dict[str, object] = {}

    def second() -> None:
        try:
            done["signed in"] = librarians.sign_in_from_sso(ctx, name, "editor", "", subject)
        except Exception as error:
            done["error"] = error

    with ctx.engine.connect() as first:  # the first sign-in, its account not yet committed
        with first.begin():
            stored_librarians.add_librarian(first, name, librarians.NO_PASSWORD,
                                            now=ctx.now(), role="editor", sso=True)
            stored_librarians.set_sso(first, name, subject=subject, email=None)
            thread = threading.Thread(target=second)
            thread.start()
            deadline = time.monotonic() + 120  # not a budget: how long to wait for a hang
            while not blocked_on_a_lock(first) and thread.is_alive():
                assert time.monotonic() < deadline, "the second sign-in never reached the insert"
                time.sleep(0.01)
        thread.join(timeout=120)
    assert "error" not in done, done
    assert done["signed in"] == (name, librarians.session_version(ctx, name), "editor")
    assert [a.name for a in librarians.everyone(ctx)] == [name]


def blocked_on_a_lock(conn: Connection) -> bool:
    """Is another session of this database waiting for a lock (PostgreSQL)? The activity
    statistics are read afresh: within a transaction they are a snapshot taken once."""
    conn.execute(text("SELECT pg_stat_clear_snapshot()"))
    return bool(conn.execute(text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'")).scalar())


def test_the_cli_adds_and_changes_roles_as_a_person(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    ctx = make_context()
    assert "added as reviewer" in run(database_url, tmp_path, "librarians", "add", "rita",
                                      "--password-stdin", "--as", "alice",
                                      stdin=PASSWORD + "\n")
    assert "rita is now editor" in run(database_url, tmp_path, "librarians", "set-role",
                                       "rita", "editor", "--as", "alice")
    assert "already editor" in run(database_url, tmp_path, "librarians", "set-role", "rita",
                                   "editor", "--as", "alice")
    listed = run(database_url, tmp_path, "librarians", "list", "--json")
    assert '"role": "editor"' in listed and '"sso": false' in listed
    before = librarians.session_version(ctx, "rita")
    # A password account has no identity to release: nothing changes, its sessions go on.
    assert "nothing to release" in run(database_url, tmp_path, "librarians", "release-sso",
                                       "rita", "--as", "alice")
    assert librarians.session_version(ctx, "rita") == before
    librarians.sign_in_from_sso(ctx, "sam@trust.nhs.uk", "reviewer", "",
                                "https://login.example/ sub-9")
    assert "next single sign-on as sam@trust.nhs.uk takes" in run(
        database_url, tmp_path, "librarians", "release-sso", "sam@trust.nhs.uk", "--as",
        "alice")
    assert [(e.librarian, e.action, e.detail, e.by) for e in librarians.history(ctx)
            if e.librarian == "rita" or e.action == "released"] == [
        ("sam@trust.nhs.uk", "released", "single sign-on identity forgotten", "alice"),
        ("rita", "role", "reviewer → editor", "alice"), ("rita", "added", "as reviewer", "alice")]


def test_migration_0017_makes_every_earlier_librarian_an_administrator(
        empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    command.upgrade(config, "0016")
    accounts = table("librarians", column("name"), column("password_hash"),
                     column("session_version"), column("created_at", UTCDateTime()))
    with engine.begin() as connection:
        connection.execute(insert(accounts), [
            {"name": "alice", "password_hash": "x", "session_version": 1, "created_at": WHEN}])
    command.upgrade(config, "0017")
    with engine.connect() as connection:
        assert connection.execute(select(Librarian.name, Librarian.role, Librarian.sso,
                                         Librarian.sso_subject)).all() \
            == [("alice", "administrator", False, None)]
    # Any number of accounts without a single sign-on subject; one account per subject.
    accounts = table("librarians", column("name"), column("password_hash"),
                     column("session_version"), column("created_at", UTCDateTime()),
                     column("sso_subject"))
    subject = "https://login.example 6f2a"
    with engine.begin() as connection:
        connection.execute(insert(accounts), [
            {"name": "bob", "password_hash": "x", "session_version": 1, "created_at": WHEN,
             "sso_subject": None},
            {"name": "carol", "password_hash": "x", "session_version": 1, "created_at": WHEN,
             "sso_subject": subject}])
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(accounts), {
            "name": "dave", "password_hash": "x", "session_version": 1, "created_at": WHEN,
            "sso_subject": subject})
    command.downgrade(config, "0016")
    command.upgrade(config, "0017")
    engine.dispose()
