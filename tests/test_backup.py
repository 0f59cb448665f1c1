"""``awareness backup``: a checked copy of the SQLite database, taken while the service
writes, with the generated signing key beside it; restored, it is the service as it was,
and the links in mail already sent still work. On PostgreSQL it points at pg_dump."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from awareness.cli import cli
from awareness.errors import AwarenessError
from awareness.service import people
from awareness.service.context import Context
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


def test_a_copy_never_overwrites_and_says_what_to_do(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    ctx = make_context()
    if ctx.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL is backed up with pg_dump: the test above checks it says so")
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
