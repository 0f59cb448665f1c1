"""The test databases: migrated once per session and backend, copied for each test.

SQLite: the migrated file, copied with SQLite's backup API. PostgreSQL: the statements the
migrations sent to an empty schema, recorded once and replayed into each test's own empty
schema in one transaction (measured cheaper than ``CREATE DATABASE … TEMPLATE``, and it needs
no CREATEDB privilege), one schema ahead: while a test runs, a thread makes the next test's
(the replay is about 0.13 s of the server's time, paid by each of some 400 tests before).
docs/testing.md has the figures.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from awareness.storage.db import make_engine, upgrade

PG_URL = os.environ.get("AWARENESS_TEST_DATABASE_URL")

Statement = tuple[str, Any, bool]  # SQL, DB-API parameters, executemany


def pg_schema_url(schema: str) -> str:
    """The test database URL with ``schema`` as the only schema on the search path."""
    assert PG_URL
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


class Templates:
    """The migrated templates of one test session, built on first use (a run that needs no
    database opens none), and the copies made of them."""

    def __init__(self, root: Path):
        self.root = root
        self._sqlite: Path | None = None
        self._statements: list[Statement] | None = None
        self._admin: Engine | None = None
        self._ahead: ThreadPoolExecutor | None = None
        self._next: Future[str] | None = None  # the next migrated schema, being made
        self.migrated: set[str] = set()  # URLs of copies: make_context must not migrate them

    @contextlib.contextmanager
    def database(self, backend: str, tmp_path: Path, *, migrated: bool) -> Iterator[str]:
        """A database of the test's own, dropped afterwards even when the test fails."""
        schema = None
        if backend == "sqlite":  # in tmp_path, which pytest removes
            path = tmp_path / "test.db"
            url = self.sqlite_copy(path) if migrated else f"sqlite:///{path}"
        elif migrated:
            schema = self._migrated_schema()
            url = pg_schema_url(schema)
        else:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            self.create_schema(schema, migrated=False)
            url = pg_schema_url(schema)
        if migrated:
            self.migrated.add(url)
        try:
            yield url
        finally:
            self.migrated.discard(url)
            if schema:
                self.drop_schema(schema)

    def sqlite_copy(self, target: Path) -> str:
        """A copy of the migrated SQLite template at ``target``; its URL."""
        if self._sqlite is None:
            self._sqlite = self._migrated_sqlite(self.root / "migrated.db")
        with contextlib.closing(sqlite3.connect(self._sqlite)) as source, \
                contextlib.closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
        return f"sqlite:///{target}"

    @staticmethod
    def _migrated_sqlite(path: Path) -> Path:
        engine = make_engine(f"sqlite:///{path}")
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # the last connection out folds the WAL into the file
        return path

    @property
    def admin(self) -> Engine:
        """One engine on the PostgreSQL test database, to create and drop schemas."""
        if self._admin is None:
            assert PG_URL
            self._admin = create_engine(PG_URL)
        return self._admin

    def _migrated_schema(self) -> str:
        """A new migrated schema's name: the one made ahead, and start making the next."""
        if self._ahead is None:
            self._recorded()  # before the thread: recorded once, in this thread
            self._ahead = ThreadPoolExecutor(1, thread_name_prefix="next-schema")
        ready = self._next or self._ahead.submit(self._new_migrated_schema)
        schema = ready.result()
        self._next = self._ahead.submit(self._new_migrated_schema)
        return schema

    def _new_migrated_schema(self) -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        self.create_schema(schema, migrated=True)
        return schema

    def create_schema(self, schema: str, *, migrated: bool) -> None:
        """Create ``schema``, empty or with the migrations' statements replayed into it."""
        statements = self._recorded() if migrated else []
        with self.admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            connection.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
            cursor = connection.connection.cursor()
            # Statements without parameters (the DDL, nearly all of them) go in one script:
            # one round trip instead of a hundred and more, each parsed by the driver.
            script: list[str] = []
            for sql, parameters, many in statements:
                if not parameters and not many:
                    script.append(sql)
                    continue
                if script:
                    cursor.execute(";\n".join(script))
                    script.clear()
                if many:
                    cursor.executemany(sql, parameters)
                else:
                    cursor.execute(sql, parameters)
            if script:
                cursor.execute(";\n".join(script))
            cursor.close()

    def drop_schema(self, schema: str) -> None:
        """Drop ``schema`` and everything in it."""
        with self.admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def _recorded(self) -> list[Statement]:
        """The statements the migrations send to an empty schema, recorded on first use."""
        if self._statements is None:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            self.create_schema(schema, migrated=False)
            try:
                self._statements = _record_migrations(pg_schema_url(schema), schema)
            finally:
                self.drop_schema(schema)
        return self._statements

    def close(self) -> None:
        if self._ahead is not None:
            if self._next is not None:
                with contextlib.suppress(Exception):
                    self.drop_schema(self._next.result())
            self._ahead.shutdown()
        if self._admin is not None:
            self._admin.dispose()


def _record_migrations(url: str, schema: str) -> list[Statement]:
    """Migrate the empty schema at ``url``, keeping every statement sent to the database."""
    recorded: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any,
               many: bool) -> None:
        recorded.append((sql, parameters, many))

    engine = make_engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    # Replayed in another schema, a statement naming this one would write to the wrong place.
    named = [sql for sql, parameters, _ in recorded if schema in f"{sql} {parameters!r}"]
    assert not named, f"a migration names its schema; copy it another way: {named[0]}"
    return recorded
