"""Read and write transactions (storage/db.py): a reader never waits for a writer.

Issue 11: every transaction used to begin with SQLite's ``BEGIN IMMEDIATE``, so a librarian
signing in (a read) queued behind a poll's write transaction and got "database is locked".
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from awareness.storage.db import make_engine, reading, upgrade, writing
from awareness.storage.models import Librarian


def test_a_reader_reads_while_a_writer_holds_its_transaction_open(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    holding, read_done = threading.Event(), threading.Event()
    waited: list[bool] = []

    def writer() -> None:
        with writing(engine) as conn:
            conn.execute(insert(Librarian).values(name="alice", password_hash="x",
                                                  session_version=1, created_at=_now()))
            holding.set()
            # The reader must finish while this transaction is still open; if reading took
            # the write lock it would wait here until this generous bound ran out.
            waited.append(read_done.wait(timeout=60))

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(timeout=60)
    with reading(engine) as conn:
        before = conn.scalar(select(func.count()).select_from(Librarian))
    read_done.set()
    thread.join()
    assert waited == [True], "the reader waited for the writer to commit"
    assert before == 0, "the reader saw the writer's uncommitted row"
    with reading(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(Librarian)) == 1
    engine.dispose()


def test_a_failed_write_transaction_leaves_nothing(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        with writing(engine) as conn:
            conn.execute(insert(Librarian).values(name="bob", password_hash="x",
                                                  session_version=1, created_at=_now()))
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    with reading(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(Librarian)) == 0
    engine.dispose()


def _now() -> datetime:
    return datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
