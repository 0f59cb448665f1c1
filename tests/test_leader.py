"""Leader election (issue 15, RELIABILITY S1, S2): one scheduler per deployment; a leader that
loses its lock stops at once; a standby takes over.

Each ``Leadership`` here stands for one process: it has its own lock and, on PostgreSQL, its
own database session. The intervals are shortened; waits poll with a deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from awareness.leader import DatabaseLock, FileLock, Leadership, lock_for
from awareness.storage.leadership import is_postgresql
from tests.databases import PG_URL


class Node:
    """One process's election: records when its scheduler started and how it stopped."""

    def __init__(self, lock: FileLock | DatabaseLock, name: str, failed_starts: int = 0):
        lock.grace_seconds = min(lock.grace_seconds, 0.2)
        self.events: list[str] = []
        self.failed_starts = failed_starts
        self.leadership = Leadership(lock, self.start, self.stop, retry_seconds=0.1,
                                     check_seconds=0.1)
        self.name, self.done = name, threading.Event()
        self.thread = threading.Thread(target=self.leadership.run, args=(self.done,))

    def start(self) -> str:
        if self.failed_starts:
            self.failed_starts -= 1
            self.events.append("start failed")
            raise RuntimeError("the scheduler did not start")
        self.events.append("start")
        return self.name

    def stop(self, handle: str, graceful: bool) -> None:
        self.events.append("stop" if graceful else "stop at once")

    def end(self) -> None:
        self.done.set()
        self.thread.join(timeout=60)


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


@pytest.fixture
def nodes(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Node]]:
    made: list[Node] = []

    def make(failed_starts: int = 0) -> Node:
        node = Node(lock_for(database_url, tmp_path), f"node-{len(made)}", failed_starts)
        made.append(node)
        node.thread.start()
        return node

    yield make
    for node in made:
        node.end()


def test_one_of_two_processes_leads_and_the_other_takes_over_when_it_ends(nodes):
    first, second = nodes(), nodes()
    wait_for(lambda: "leader" in {first.leadership.role, second.leadership.role})
    leader, standby = ((first, second) if first.leadership.role == "leader" else
                       (second, first))
    time.sleep(0.5)  # several retries by the standby: it must stay one
    assert standby.leadership.role == "standby" and standby.events == []
    leader.end()
    assert leader.events == ["start", "stop"]  # a graceful stop at shutdown
    wait_for(lambda: standby.leadership.role == "leader")
    assert standby.events == ["start"]


def test_a_scheduler_that_fails_to_start_gives_up_the_lead_and_tries_again(nodes):
    node = nodes(failed_starts=1)
    wait_for(lambda: node.leadership.role == "leader")
    assert node.events == ["start failed", "start"]


def session_holding_the_lock(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::bigint"
                " = hashtext('awareness-scheduler:' || current_schema())::bigint & 4294967295"
            )).scalar_one())
    finally:
        engine.dispose()


def end_session(database_url: str, pid: int) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        engine.dispose()


def test_a_leader_whose_session_is_ended_stops_scheduling_at_once(nodes, database_url):
    if not is_postgresql(database_url):
        pytest.skip("a file lock has no session to lose: it is released when the process dies")
    node = nodes()
    wait_for(lambda: node.leadership.role == "leader")
    end_session(database_url, session_holding_the_lock(database_url))
    wait_for(lambda: "stop at once" in node.events)
    # Nobody else holds the lock, so it leads again, on a new session, with a new scheduler.
    wait_for(lambda: node.events == ["start", "stop at once", "start"])
    assert node.leadership.role == "leader"


def test_services_in_different_schemas_each_have_a_leader(database_url, tmp_path):
    if not is_postgresql(database_url):
        pytest.skip("one SQLite file, one lock file")
    assert PG_URL  # the test database's public schema: another service beside this test's
    mine, rival, theirs = (DatabaseLock(database_url), DatabaseLock(database_url),
                           DatabaseLock(PG_URL))
    try:
        assert mine.acquire() and mine.holds()
        assert rival.acquire() is False
        assert theirs.acquire()  # another schema's key: no contention
    finally:
        for lock in (mine, rival, theirs):
            lock.release()


def test_a_file_lock_is_held_until_released(tmp_path):
    lock = FileLock(tmp_path / "scheduler.lock")
    assert lock.acquire() and lock.holds()
    assert FileLock(tmp_path / "scheduler.lock").acquire() is False
    lock.release()
    assert not lock.holds()
