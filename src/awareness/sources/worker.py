"""Parsing in worker processes, bounded in time and memory (shell: owns child processes).

feedparser is pure Python and cannot be interrupted: a deeply nested or huge document keeps a
thread busy for seconds and can allocate without limit (RELIABILITY.md P8). So every parse runs
in a child process that has an address-space limit (``RLIMIT_AS``) and a wall-clock budget.
A child that overruns the budget is killed and replaced; a child that runs out of memory
reports it (or dies, and is replaced). Either way the source gets one clear error and the other
sources' parses carry on in the other workers.

Each child is a fresh interpreter (``python -c``, so nothing held by the scheduler's or the
web server's threads is copied into it) that imports only the parser and talks to its parent
over a socket pair with ``multiprocessing.connection``'s framing. There is no forkserver and
no resource tracker beside it: a worker is one process of about 24 MiB.
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from awareness.errors import ParseError
from awareness.model import ParsedFeed
from awareness.sources.parse import MEMORY_REJECTION

PARSE_TIMEOUT = 10.0
PARSE_MEMORY_LIMIT = 1024 * 1024 * 1024
# A new worker imports the parser before its first parse; that is not the parse's time. This
# bounds only a child that cannot start at all (a broken installation), on any loaded machine.
START_TIMEOUT = 120.0
_READY = "ready"
_CHILD = "import sys; from awareness.sources.worker import serve; serve(int(sys.argv[1]))"


def default_size() -> int:
    """Half the CPUs, at least one: the polling process needs a core of its own to fetch,
    match and store while the workers parse."""
    return max(1, (os.cpu_count() or 2) // 2)


def _limit_memory(limit: int | None) -> None:
    if limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def serve(fd: int) -> None:
    """The child's loop: parse each request, send back ("ok", feed) or ("error", message).

    The first message says how much memory the child may use; the child answers "ready" once
    it has imported the parser. Interrupts are the parent's to handle: it ends the child by
    closing the socket (or sending None), or kills it.
    """
    from awareness.sources.parse import parse_feed

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    try:
        memory_limit = conn.recv()
    except (EOFError, OSError):
        return
    _limit_memory(memory_limit)
    conn.send(_READY)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError, MemoryError):
            return
        if request is None:
            return
        try:
            reply: tuple[str, Any] = ("ok", parse_feed(**request))
        except ParseError as exc:
            reply = ("error", str(exc))
        except MemoryError:
            reply = ("error", MEMORY_REJECTION)
        del request
        conn.send(reply)
        if reply[1] == MEMORY_REJECTION:
            return  # a process that hit its memory limit may be in a bad state: start afresh


def _child_environment() -> dict[str, str]:
    """This environment, with the directory this package was imported from first on the
    child's path, so that the child runs the same code as its parent."""
    here = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else "")}


class _Worker:
    """One child process and the socket to it."""

    def __init__(self, memory_limit: int | None):
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, env=_child_environment())
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        try:
            self.conn.send(memory_limit)
            if not self.conn.poll(START_TIMEOUT) or self.conn.recv() != _READY:
                raise EOFError
        except (EOFError, OSError):
            self.stop(kill=True)
            raise

    def run(self, request: dict[str, Any], timeout: float) -> tuple[str, Any]:
        """Send one request; its reply, or TimeoutError / EOFError when the child failed."""
        self.conn.send(request)
        if not self.conn.poll(timeout):
            raise TimeoutError
        reply: tuple[str, Any] = self.conn.recv()
        return reply

    def stop(self, *, kill: bool = False) -> None:
        """End the child: politely, or at once when it is stuck in a parse."""
        if not kill and self.process.poll() is None:
            try:
                self.conn.send(None)
            except OSError:
                kill = True
        if kill:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.conn.close()


class ParsePool:
    """A few parse workers shared by the threads that poll sources.

    ``parse`` blocks until a worker is free; at most ``size`` parses run at once. Workers start
    when first needed and are replaced when one is killed.
    """

    def __init__(self, size: int | None = None, *, timeout: float = PARSE_TIMEOUT,
                 memory_limit: int | None = PARSE_MEMORY_LIMIT):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.size = max(1, size or default_size())
        self.timeout = timeout
        self.memory_limit = memory_limit
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(self.size):
            self._idle.put(None)  # a free slot whose worker has not started yet
        self._lock = threading.Lock()
        self._closed = False

    def parse(self, body: bytes, *, url: str, content_type: str | None, now: datetime,
              max_items: int = 500) -> ParsedFeed:
        """``parse_feed`` in a worker. Raises ParseError for bad feeds, overruns and crashes."""
        if self._closed:
            raise RuntimeError("the parse pool is closed")
        request = {"body": body, "url": url, "content_type": content_type, "now": now,
                   "max_items": max_items}
        worker = self._idle.get() or self._start()
        try:
            status, value = worker.run(request, self.timeout)
        except TimeoutError:
            worker.stop(kill=True)
            self._idle.put(None)
            raise ParseError(f"parsing took longer than {self.timeout:g} s: the feed is too "
                             "large or too deeply nested") from None
        except (EOFError, OSError):
            worker.stop(kill=True)
            self._idle.put(None)
            raise ParseError("the parser process died (the feed needed too much memory)") from None
        if status == "error" and value == MEMORY_REJECTION:
            worker.stop(kill=True)
            self._idle.put(None)
        else:
            self._idle.put(worker)
        if status == "error":
            raise ParseError(value)
        feed: ParsedFeed = value
        return feed

    def _start(self) -> _Worker:
        try:
            return _Worker(self.memory_limit)
        except (EOFError, OSError) as exc:
            self._idle.put(None)
            raise ParseError(f"the parser process could not start ({exc or 'it exited'})") from None

    def close(self) -> None:
        """Stop every worker; later calls to ``parse`` raise."""
        with self._lock:
            self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            if worker is not None:
                worker.stop()


_shared: ParsePool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ParsePool:
    """The process-wide pool that polling uses, started on first use, stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ParsePool()
            atexit.register(_shared.close)
        return _shared
