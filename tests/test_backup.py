"""``awareness backup``: a checked copy of the SQLite database, taken while the service
writes, with the generated signing key beside it; restored, it is the service as it was,
and the links in mail already sent still work. ``awareness restore`` puts such a copy back,
whatever a stopped service left beside the database. On PostgreSQL they point at pg_dump
and pg_restore."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from awareness.cli import cli
from awareness.errors import AwarenessError
from awareness.leader import FileLock
from awareness.service import people
from awareness.service.backup import backup
from awareness.service.context import Context
from awareness.storage.db import head_revisions
from tests.conftest import settings_env

STAFF = [f"reader{n}@trust.nhs.uk" for n in range(40)]


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={**env, "COLUMNS": "200"})


def error(result: Result) -> str:
    """The one-line message ``awareness.cli.main`` prints as ``error: …`` (and exits 1)."""
    assert isinstance(result.exception, AwarenessError), result.output
    return str(result.exception)


def test_a_copy_taken_while_the_service_writes_restores_the_service_as_it_was(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    env = settings_env(tmp_path, database_url, AWARENESS_WEB_SECRET_KEY="")
    ctx = make_context(AWARENESS_WEB_SECRET_KEY="")
    if ctx.engine.dialect.name != "sqlite":
        refused = run(env, "backup", str(tmp_path / "copy.db"))
        assert "pg_dump --format=custom" in error(refused)
        assert not (tmp_path / "copy.db").exists()
        return
    people.add_subscriber(ctx, STAFF[0], ["leadership"], "weekly")
    signed = ctx.secret()
    writing = threading.Event()

    def staff_sign_up() -> None:  # the service goes on writing during the copy
        for address in STAFF[1:]:
            people.add_subscriber(ctx, address, ["leadership"], "daily")
            writing.set()

    writer = threading.Thread(target=staff_sign_up)
    writer.start()
    writing.wait(30)
    folder = tmp_path / "backups"
    folder.mkdir()
    made = run(env, "backup", str(folder))
    writer.join(60)
    assert made.exit_code == 0, made.output
    [copy] = folder.glob("*.db")
    assert copy.name.startswith("awareness-") and (copy.stat().st_mode & 0o077) == 0
    assert f"backup written: {copy} (" in made.output and "integrity check: ok" in made.output
    key = copy.with_name(copy.name + ".secret-key")
    assert key.read_text() == signed and (key.stat().st_mode & 0o077) == 0
    assert sorted(p.name for p in folder.iterdir()) == [copy.name, key.name]  # no partial copy
    with sqlite3.connect(copy) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # Restored on a new machine: the database and the key where the settings put them.
    restored = tmp_path / "restored"
    (restored / "var").mkdir(parents=True)
    shutil.copyfile(copy, restored / "var" / "awareness.db")
    shutil.copyfile(key, restored / "var" / "secret-key")
    env2 = settings_env(restored, f"sqlite:///{restored / 'var' / 'awareness.db'}",
                        AWARENESS_WEB_SECRET_KEY="")
    assert "database is up to date" in run(env2, "init").output
    listed = json.loads(run(env2, "subscribers", "list", "--json").output)
    addresses = {row["email"] for row in listed}
    assert STAFF[0] in addresses and addresses <= set(STAFF)
    assert run(env2, "backup", str(restored / "again.db")).exit_code == 0
    assert (restored / "again.db.secret-key").read_text() == signed  # links already mailed hold


def on_sqlite(make_context: Callable[..., Context]) -> Context:
    """The test's context; the test is skipped on PostgreSQL, which is backed up with pg_dump
    and restored with pg_restore (the tests that run there check each command says so)."""
    ctx = make_context()
    if ctx.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL is backed up and restored with its own tools")
    return ctx


def test_a_copy_never_overwrites_and_says_what_to_do(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    on_sqlite(make_context)
    env = settings_env(tmp_path, database_url)
    existing = tmp_path / "keep.db"
    existing.write_bytes(b"yesterday's backup")
    refused = run(env, "backup", str(existing))
    assert error(refused) == f"{existing} exists already; name a new file, or a folder"
    assert existing.read_bytes() == b"yesterday's backup"
    nowhere = run(env, "backup", str(tmp_path / "missing" / "copy.db"))
    assert error(nowhere) == f"no folder {tmp_path / 'missing'}; create it first"
    # A folder not made yet, named with its slash as a nightly job names it: made, and the
    # copy goes in it (not a file of the folder's name, which would refuse every later night).
    nightly = run(env, "backup", f"{tmp_path / 'backups' / 'nightly'}/")
    assert nightly.exit_code == 0, nightly.output
    [copy] = (tmp_path / "backups" / "nightly").glob("awareness-*.db")
    assert (copy.parent.stat().st_mode & 0o077) == 0
    made = run(env, "backup", str(tmp_path / "copy.db"))
    assert made.exit_code == 0 and made.output.endswith(
        "the signing key is AWARENESS_WEB_SECRET_KEY's: keep it with your backups\n")
    assert sorted(p.name for p in tmp_path.glob("copy*")) == ["copy.db"]


def test_copies_into_a_folder_in_the_same_second_each_get_a_name(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    # A second backup within the minute was refused, "exists already; name a new file, or a
    # folder", though a folder was named: the names went to the minute.
    ctx = on_sqlite(make_context)  # its clock stands still at 09:00:00 UTC, 23 November 2026
    folder = tmp_path / "backups"
    made = [backup(ctx, f"{folder}/").database for _ in range(3)]
    assert [path.name for path in made] == ["awareness-20261123-090000.db",
                                            "awareness-20261123-090000-2.db",
                                            "awareness-20261123-090000-3.db"]
    assert len({path.read_bytes() for path in made}) == 1
    # A copy under way (or one a crash left half made) keeps its name from the next.
    (folder / ".awareness-20261123-090000-4.db.partial").touch()
    assert backup(ctx, folder).database.name == "awareness-20261123-090000-5.db"
    env = settings_env(tmp_path, database_url)
    for _ in range(2):  # the command line, twice within a second or a minute
        again = run(env, "backup", str(folder))
        assert again.exit_code == 0, again.output
    assert len(list(folder.glob("*.db"))) == 6
    # A file named as a folder is said to be one.
    assert error(run(env, "backup", f"{made[0]}/")) == (
        f"{made[0]} is a file, not a folder: name a folder, or a new file")


# --- restoring ----------------------------------------------------------------------------------

def emails_in(database: Path) -> set[str]:
    """The subscribers' addresses as SQLite reads the database: with a -wal beside it, the
    -wal's committed pages are part of it."""
    with sqlite3.connect(database) as reader:
        return {row[0] for row in reader.execute("SELECT email FROM subscribers")}


def leave_a_stale_wal(ctx: Context, database: Path, address: str) -> None:
    """What a service killed mid-work leaves: the database file as it was, and beside it a
    -wal holding a newer write (``address`` signed up) that was never copied back into it."""
    ctx.dispose()  # the last connection to close copies the -wal back and removes it
    before = database.read_bytes()
    people.add_subscriber(ctx, address, ["leadership"], "daily")
    wal = database.with_name(database.name + "-wal").read_bytes()
    ctx.dispose()
    database.write_bytes(before)
    database.with_name(database.name + "-wal").write_bytes(wal)


def test_a_restore_reads_as_the_copy_though_a_stale_wal_was_beside_the_database(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    env = settings_env(tmp_path, database_url, AWARENESS_WEB_SECRET_KEY="")
    ctx = make_context(AWARENESS_WEB_SECRET_KEY="")
    if ctx.engine.dialect.name != "sqlite":
        refused = run(env, "restore", str(tmp_path / "copy.db"))
        assert "pg_restore --clean --dbname=DBNAME FILE" in error(refused)
        return
    people.add_subscriber(ctx, STAFF[0], ["leadership"], "weekly")
    signed = ctx.secret()
    copy = backup(ctx, f"{tmp_path / 'backups'}/").database
    people.add_subscriber(ctx, STAFF[1], ["leadership"], "weekly")  # after the copy
    database = Path(str(ctx.engine.url.database))
    leave_a_stale_wal(ctx, database, STAFF[2])
    key = tmp_path / "var" / "secret-key"
    key.write_text("a key made after the copy")

    # Copying the backup over the database file, as the steps said, left the -wal beside it:
    # SQLite read it as part of the copy, which then read as the newer data.
    by_hand = tmp_path / "by-hand"
    by_hand.mkdir()
    for name in (database.name, database.name + "-wal"):
        shutil.copyfile(database.with_name(name), by_hand / name)
    shutil.copyfile(copy, by_hand / database.name)
    assert emails_in(by_hand / database.name) == set(STAFF[:3])

    restored = run(env, "restore", str(copy))
    assert restored.exit_code == 0, restored.output
    assert emails_in(database) == {STAFF[0]}  # the copy, and only the copy
    assert key.read_text() == signed  # links in mail sent before the copy work again
    lines = restored.output.splitlines()
    assert lines[0] == f"restored {copy} to {database} (SQLite's integrity check: ok; schema " \
                       f"{head_revisions()[0]})"
    [aside] = database.parent.glob(f"{database.stem}-replaced-*.db")
    assert lines[1] == f"the database it replaced is kept as {aside}, {aside.name}-wal"
    [key_aside] = tmp_path.glob("var/secret-key-replaced-*")
    assert lines[2] == f"signing key restored to {key}; the one it replaced is kept as " \
                       f"{key_aside}"
    assert lines[3:] == ["next: `awareness init`, then start the service"]
    # Nothing was deleted: the database it replaced, with its -wal, is as it was.
    assert emails_in(aside) == set(STAFF[:3])
    assert key_aside.read_text() == "a key made after the copy"
    assert "database is up to date" in run(env, "init").output
    listed = json.loads(run(env, "subscribers", "list", "--json").output)
    assert [row["email"] for row in listed] == [STAFF[0]]


def test_a_restore_refuses_what_is_not_a_sound_copy_and_changes_nothing(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    ctx = on_sqlite(make_context)
    env = settings_env(tmp_path, database_url)
    database = Path(str(ctx.engine.url.database))
    ctx.dispose()
    before = database.read_bytes()
    (tmp_path / "copies").mkdir()
    not_a_database = tmp_path / "copies" / "notes.db"
    not_a_database.write_text("not a database")
    assert error(run(env, "restore", str(not_a_database))) == (
        f"{not_a_database} fails SQLite's integrity check (file is not a database): restore "
        "another copy; nothing was changed")
    other = tmp_path / "copies" / "other.db"
    with sqlite3.connect(other) as made:
        made.execute("CREATE TABLE notes (text)")
    assert error(run(env, "restore", str(other))) == (
        f"{other} holds no database of this service (no schema version): name a copy "
        "`awareness backup` made")
    assert error(run(env, "restore", str(tmp_path / "missing.db"))) == (
        f"no file {tmp_path / 'missing.db'}: name a copy `awareness backup` made")
    assert error(run(env, "restore", str(database))) == (
        f"{database} is the database itself: name a copy of it")
    assert database.read_bytes() == before
    assert [p.name for p in database.parent.glob(f"{database.stem}*")] == [database.name]


@pytest.mark.integration
def test_a_restore_refuses_while_a_process_has_the_database_open(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    ctx = on_sqlite(make_context)
    env = settings_env(tmp_path, database_url)
    copy = backup(ctx, f"{tmp_path / 'copies'}/").database
    database = Path(str(ctx.engine.url.database))
    ctx.dispose()
    refusal = (f"{database} is in use: stop every process of the service (`awareness run`, "
               "its schedulers and workers, and any command still running) and restore again")
    # Another process reading the database (a web process, a command, the sqlite3 shell).
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys; connection = sqlite3.connect(sys.argv[1]); "
         "connection.execute('SELECT count(*) FROM subscribers').fetchall(); print('open', "
         "flush=True); sys.stdin.readline()", str(database)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        assert error(run(env, "restore", str(copy))) == refusal
    finally:
        holder.communicate("\n", timeout=60)
    # The scheduler's lock, held by a running service.
    scheduler = FileLock(tmp_path / "var" / "scheduler.lock")
    assert scheduler.acquire()
    try:
        assert error(run(env, "restore", str(copy))) == refusal
    finally:
        scheduler.release()
    assert [p.name for p in database.parent.glob(f"{database.stem}*")] == [database.name]
    assert run(env, "restore", str(copy)).exit_code == 0
