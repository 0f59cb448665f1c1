"""Engine, transactions and schema upgrades (shell: owns the database connection).

Two kinds of transaction (issue 11): ``reading`` for reads and ``writing`` for writes. On
SQLite a write transaction takes the database's one write lock at ``BEGIN IMMEDIATE`` and
holds it until commit, so it must hold nothing but writes — never a fetch, a parse, matching,
rendering or an SMTP conversation — or every librarian's click waits behind it. A read
transaction is a deferred ``BEGIN``: in WAL mode it reads a consistent snapshot without ever
waiting for a writer. On PostgreSQL both are ordinary READ COMMITTED transactions.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import IntegrityError

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration(s). A database already there is opened without importing Alembic, which
# with Mako and Pygments is about 10 MiB in every process that would otherwise only check.
# tests/test_storage.py holds this to what Alembic finds in MIGRATIONS.
HEADS = ("0021",)
# The execution option that marks a connection's transaction as a write (BEGIN IMMEDIATE).
WRITE = "awareness_write"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite opens transactions lazily and its SAVEPOINT handling is broken (a RELEASE of
    # the first savepoint commits everything). Take transaction control from the driver and
    # emit BEGIN ourselves, as the SQLAlchemy documentation recommends.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A writer takes the lock at the start (IMMEDIATE), so two writers queue on busy_timeout
    # instead of failing with "database is locked" when a reader upgrades to a writer. A
    # reader never asks for it: in WAL mode it reads its snapshot while a writer writes.
    if connection.get_execution_options().get(WRITE):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


# A unique key or constraint refused a write, e.g. a row a concurrent transaction committed
# first: run the transaction again, and it reads that row (service.librarians).
Conflict = IntegrityError


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: one consistent snapshot, never SQLite's write lock."""
    with engine.connect() as connection, connection.begin():
        yield connection


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction, committed on success and rolled back on any exception. Keep it to
    the writes of one unit of work (see the module docstring)."""
    with engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            yield connection


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest migrations; return (before, after) revisions."""
    with _one_upgrade_at_a_time(engine):
        before = current_revision(engine)
        if before != ",".join(HEADS):
            from alembic import command
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            # Schema changes are writes: take the write lock at BEGIN like every other writer.
            config.attributes["engine"] = engine.execution_options(**{WRITE: True})
            command.upgrade(config, "heads")
        return before, current_revision(engine) or ""


@contextmanager
def _one_upgrade_at_a_time(engine: Engine) -> Iterator[None]:
    """Processes starting together on one SQLite file (one machine, by SQLite's nature)
    upgrade one after another, each opening the file only when the one before is done: an
    flock on a file beside it. Leaving it to SQLite's write lock failed once in many runs,
    with "database is locked" while three processes opened a new file together. PostgreSQL's
    upgrades queue on an advisory lock instead (migrations/env.py)."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.upgrade-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def backup_sqlite(engine: Engine, target: Path) -> str:
    """Copy the SQLite database to ``target``, a new file, as one consistent snapshot taken
    while the service runs (SQLite's online backup: in WAL mode writers go on meanwhile);
    return SQLite's integrity check of the copy, ``"ok"`` when it is sound. The copy is
    written under a name of its own and takes ``target``'s name only once checked (never
    over an existing file: FileExistsError), readable by its owner only (it holds staff
    addresses)."""
    draft = target.with_name(f".{target.name}.partial")
    os.close(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        source = engine.raw_connection()
        try:
            copy = sqlite3.connect(draft)
            try:
                source.driver_connection.backup(copy)  # type: ignore[union-attr]
                verdict = str(copy.execute("PRAGMA integrity_check").fetchone()[0])
            finally:
                copy.close()
        finally:
            source.close()
        if verdict == "ok":
            os.link(draft, target)
        return verdict
    finally:
        draft.unlink()


# What SQLite locks while a connection has a WAL database open, for as long as it is open
# (its unix VFS, os_unix.c): the "dead man switch" byte of the -shm file (a read lock), and
# the SHARED range of the database file (PENDING_BYTE 0x40000000 + 2, 510 bytes).
SHM_DMS = (128, 1)
SHARED_RANGE = (0x40000002, 510)


def sqlite_files(path: Path) -> tuple[Path, Path, Path]:
    """The database file and the two SQLite writes beside it in WAL mode: ``-wal``, whose
    committed pages a connection reads (and copies back) as part of the database, and
    ``-shm``, its index. The three are one database: never move one without the others."""
    return path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def sqlite_in_use(path: Path) -> bool:
    """Whether a process on this machine has the SQLite database ``path`` open: SQLite's
    POSIX locks on it, tried (and let go at once) without waiting. A lock held by this
    very process is invisible to it (POSIX locks are the process's): call this before the
    process opens the database. A file this process may not open cannot be tried, and says
    "not in use"; nor does a database opened from another machine over a network share."""
    database, _, index = sqlite_files(path)
    return _locked(index, *SHM_DMS) or _locked(database, *SHARED_RANGE)


def _locked(path: Path, start: int, length: int) -> bool:
    try:
        handle = os.open(path, os.O_RDWR)
    except OSError:  # no such file (no connection made it), or not ours to open
        return False
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB, length, start)
    except OSError:
        return True
    else:
        fcntl.lockf(handle, fcntl.LOCK_UN, length, start)
        return False
    finally:
        os.close(handle)


def check_sqlite_file(path: Path) -> tuple[str, str | None]:
    """SQLite's integrity check of the database file ``path`` (``"ok"`` when it is sound)
    and its schema revision (None when it holds none: not this service's database). It is
    read as an immutable file: nothing is written beside it, and a ``-wal`` beside it is not
    read. A file that is no SQLite database fails the check, with SQLite's words."""
    check = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
    try:
        try:
            verdict = str(check.execute("PRAGMA integrity_check").fetchone()[0])
        except sqlite3.DatabaseError as exc:  # "file is not a database"
            return str(exc), None
        if not check.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                             "name = 'alembic_version'").fetchone():
            return verdict, None
        heads = [row[0] for row in check.execute("SELECT version_num FROM alembic_version")]
        return verdict, ",".join(sorted(heads)) or None
    finally:
        check.close()


def current_revision(engine: Engine) -> str | None:
    """The applied revision(s), comma-separated while branches are not yet merged; None
    before the first upgrade. Read from Alembic's own table, as Alembic reads it."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        heads = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        return ",".join(sorted(heads)) or None


def head_revisions() -> tuple[str, ...]:
    return HEADS
