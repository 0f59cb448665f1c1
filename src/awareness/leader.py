"""Which process runs the scheduler: leader election (shell; issue 15, RELIABILITY S1, S2).

Two APScheduler schedulers run every job twice (RELIABILITY finding 11), so exactly one
process per deployment schedules: the one holding the leader lock. Every other process that
could schedule waits on standby and tries again every ``STANDBY_RETRY_SECONDS``.

- **PostgreSQL**: a session-level advisory lock on a connection of its own
  (``storage.leadership``). It works across hosts and containers. The leader checks its lock
  every ``LEADER_CHECK_SECONDS``; when the check fails (the session was ended, the database
  or the network went away) it shuts its scheduler down at once, without waiting for running
  jobs, and goes back to standby. A process that takes the lock waits ``TAKEOVER_GRACE_SECONDS``
  before it starts scheduling, so a leader that lost its session has noticed and stopped
  first. Bound: after a leader dies, another process leads within 15 s (its next retry, 5 s,
  plus the grace, 5 s, plus connecting); after a leader's machine or network vanishes, within
  15 s more (the session's idle timeout frees the lock).
- **SQLite** (one machine): an exclusive ``flock`` on ``<data>/scheduler.lock``, released
  by the OS when the process dies; held until then, so there is nothing to check.

Every job is idempotent (the outbox's unique keys, items and stories unique per source), so
a job that was already running on an old leader when it stepped down does no harm.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from awareness.storage import leadership

log = logging.getLogger(__name__)

STANDBY_RETRY_SECONDS = 5.0
LEADER_CHECK_SECONDS = 2.0
TAKEOVER_GRACE_SECONDS = 5.0
Role = Literal["leader", "standby"]
SCHEDULER_LOCK = "scheduler.lock"  # the file in the data folder that SQLite's leader locks


class Lock(Protocol):
    """A lock that at most one process holds."""

    grace_seconds: float

    def acquire(self) -> bool: ...
    def holds(self) -> bool: ...
    def release(self) -> None: ...


class FileLock:
    """An exclusive, non-blocking ``flock``; released by the OS if the process dies."""

    grace_seconds = 0.0  # nobody else can hold it while a live process does

    def __init__(self, path: Path):
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    def holds(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        if self._handle:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


class DatabaseLock:
    """PostgreSQL's session-level advisory lock, held on a session of its own."""

    grace_seconds = TAKEOVER_GRACE_SECONDS

    def __init__(self, url: str):
        self.url = url
        self._session: Any = None

    def acquire(self) -> bool:
        try:
            if self._session is None:
                self._session = leadership.open_session(self.url)
            if leadership.try_lead(self._session):
                return True
        except leadership.LockLost as exc:
            log.warning("cannot reach the database to take the scheduler lock: %s",
                        type(exc).__name__)
            self._drop()
        return False

    def holds(self) -> bool:
        if self._session is None:
            return False
        try:
            if leadership.holds_lead(self._session):
                return True
        except leadership.LockLost as exc:
            log.error("lost the database session holding the scheduler lock: %s",
                      type(exc).__name__)
        self._drop()
        return False

    def release(self) -> None:
        if self._session is not None:
            leadership.give_up(self._session)
            self._session = None

    def _drop(self) -> None:
        if self._session is not None:
            leadership.close(self._session)
            self._session = None


def lock_for(database_url: str, data: Path) -> Lock:
    """The advisory lock on PostgreSQL, the data folder's file lock on SQLite."""
    if leadership.is_postgresql(database_url):
        return DatabaseLock(database_url)
    return FileLock(data / SCHEDULER_LOCK)


def scheduler_runs(data: Path) -> bool:
    """Whether a process on this machine runs the scheduler of the SQLite deployment whose
    data folder is ``data``: it holds the folder's file lock (tried here, and let go at
    once, never made)."""
    path = data / SCHEDULER_LOCK
    if not path.exists():
        return False
    lock = FileLock(path)
    if lock.acquire():
        lock.release()
        return False
    return True


class Leadership:
    """Runs ``start()`` while this process leads and ``stop(handle, graceful)`` the moment it
    stops: not graceful when the lock was lost (at once), graceful at shutdown.

    ``run`` is the election loop, for a thread of its own; ``role`` says where it stands.
    """

    def __init__(self, lock: Lock, start: Callable[[], Any], stop: Callable[[Any, bool], None], *,
                 retry_seconds: float = STANDBY_RETRY_SECONDS,
                 check_seconds: float = LEADER_CHECK_SECONDS):
        self.lock, self._start, self._stop = lock, start, stop
        self.retry_seconds, self.check_seconds = retry_seconds, check_seconds
        self._handle: Any = None
        self._guard = threading.Lock()

    @property
    def role(self) -> Role:
        return "leader" if self._handle is not None else "standby"

    @property
    def handle(self) -> Any:
        """What ``start`` returned while this process leads (the scheduler), else None."""
        return self._handle

    def run(self, done: threading.Event) -> None:
        """Lead when possible, step down when the lock is lost, until ``done`` is set."""
        announced = False
        while not done.is_set():
            if self._handle is not None:
                done.wait(self.check_seconds)
                if not done.is_set() and not self.lock.holds():
                    self._step_down("lost the scheduler lock: stopped scheduling; standby")
                    announced = True
            elif self.lock.acquire():
                if self._take_over(done):
                    announced = False
            else:
                if not announced:
                    log.warning("standby: another awareness process runs the scheduler")
                    announced = True
                done.wait(self.retry_seconds)
        self.close()

    def _take_over(self, done: threading.Event) -> bool:
        # Wait out the grace so a leader that lost the lock has noticed and stopped first.
        if done.wait(self.lock.grace_seconds) or not self.lock.holds():
            self.lock.release()
            return False
        try:
            with self._guard:
                self._handle = self._start()
        except Exception:  # a scheduler that cannot start must not hold the lead
            log.exception("the scheduler did not start; giving up the lead")
            self.lock.release()
            done.wait(self.retry_seconds)
            return False
        log.info("this process runs the scheduler")
        return True

    def _step_down(self, why: str) -> None:
        with self._guard:
            handle, self._handle = self._handle, None
        if handle is not None:
            self._stop(handle, False)
            log.error(why)
        self.lock.release()

    def close(self) -> None:
        """Stop scheduling and release the lock (at shutdown)."""
        with self._guard:
            handle, self._handle = self._handle, None
        if handle is not None:
            self._stop(handle, True)
        self.lock.release()
