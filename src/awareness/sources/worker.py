"""Parsing in worker processes, bounded in time and memory (shell: owns child processes).

feedparser is pure Python and cannot be interrupted: a deeply nested or huge document keeps a
thread busy for seconds and can allocate without limit (RELIABILITY.md P8). So every parse runs
in a child process that has an address-space limit (``RLIMIT_AS``) and a wall-clock budget.
A child that overruns the budget is killed and replaced; a child that runs out of memory
reports it (or dies, and is replaced). Either way the source gets one clear error and the other
sources' parses carry on in the other workers.

Children are started with ``forkserver`` where available, because forking a process that runs
the scheduler's and the web server's threads can copy a held lock into the child.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import threading
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from awareness.errors import ParseError
from awareness.model import ParsedFeed
from awareness.sources.parse import MEMORY_REJECTION

PARSE_TIMEOUT = 10.0
PARSE_MEMORY_LIMIT = 1024 * 1024 * 1024
_PARSER_MODULE = "awareness.sources.parse"


def _limit_memory(limit: int | None) -> None:
    if limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve(conn: Connection, memory_limit: int | None) -> None:
    """The child's loop: parse each request, send back ("ok", feed) or ("error", message)."""
    from awareness.sources.parse import parse_feed

    _limit_memory(memory_limit)
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


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([_PARSER_MODULE])
        return ctx
    return multiprocessing.get_context("spawn")


class _Worker:
    """One child process and the pipe to it."""

    def __init__(self, mp: Any, memory_limit: int | None):
        self.conn, child = mp.Pipe()
        self.process = mp.Process(target=_serve, args=(child, memory_limit), daemon=True,
                                  name="awareness-parse")
        self.process.start()
        child.close()

    def run(self, request: dict[str, Any], timeout: float) -> tuple[str, Any]:
        """Send one request; its reply, or TimeoutError / EOFError when the child failed."""
        self.conn.send(request)
        if not self.conn.poll(timeout):
            raise TimeoutError
        reply: tuple[str, Any] = self.conn.recv()
        return reply

    def stop(self, *, kill: bool = False) -> None:
        """End the child: politely, or at once when it is stuck in a parse."""
        if not kill and self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                kill = True
        if kill:
            self.process.kill()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
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
        self.size = max(1, size or os.cpu_count() or 2)
        self.timeout = timeout
        self.memory_limit = memory_limit
        self._mp = _context()
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
        worker = self._idle.get() or _Worker(self._mp, self.memory_limit)
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
