"""The librarians' files under ``subscriptions/`` as a running service reads them.

The service never caches these files for its lifetime: an edited strategy or source takes
effect at the next poll, without a restart. Each file is read again when it changes (added,
removed, or with a new size or modification time); until then every caller gets the same
values, so what is built from them (a topic index) can be kept as long as they are.

A file that cannot be read (a mistake, another encoding) never stops the service (issue 16:
every poll job failed while /healthz said "ok"). An edit that cannot be read leaves the
file's last good version in use; a file that was never read — broken when the service
started — is left out, and the service goes on with the files it can read. Either way
``problems`` says what is wrong until the file reads again, and the log says so once, when
the file changes, not at every poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from awareness.errors import ConfigError, ConfigErrors

T = TypeVar("T")
log = logging.getLogger(__name__)

# What goes missing while a file that was never read is left out, by the kind of file.
LEFT_OUT = {
    "topic": "This topic is left out until the file is fixed: nothing is matched against "
             "it, and staff cannot see or choose it.",
    "bulletin": "This bulletin is left out until the file is fixed: no issue of it is drafted "
                "or sent.",
    "members": "The steering group's members are left out until the file is fixed: nobody "
               "is sent a weekly list of records.",
    "sources": "No source is polled until the file is fixed.",
}
KEPT = "The service goes on with the version before the edit."


@dataclass(frozen=True)
class FileProblem:
    """A file under subscriptions/ that cannot be read as it is now: every problem in it
    (``text``, ``path:line: message`` lines as ``awareness check`` prints them), and whether
    the service goes on with the file's version before the edit (``kept``) or without it."""

    kind: str  # topic, bulletin, members or sources
    path: Path
    text: str
    kept: bool

    @property
    def outcome(self) -> str:
        """What the service does meanwhile, in a sentence for the librarians."""
        return KEPT if self.kept else LEFT_OUT[self.kind]


@dataclass(frozen=True)
class _Reading(Generic[T]):
    """One file as last read: its stamp, its last good value (None: never read) and, while
    it cannot be read as it is now, the error."""

    stamp: tuple[int, int]
    value: T | None
    error: ConfigError | None


class FileBacked(Generic[T]):
    """The values of a kind of librarians' file (topics, say), one a file, each read again
    when its file changes; see the module's docstring for a file that cannot be read."""

    def __init__(self, kind: str, files: Callable[[], Sequence[Path]],
                 read: Callable[[Path], T]):
        self.kind = kind
        self._files, self._read = files, read
        self._lock = threading.Lock()
        self._readings: dict[Path, _Reading[T]] = {}
        self._values: tuple[T, ...] = ()

    def get(self) -> tuple[T, ...]:
        """The value of every file that has ever been read, as it is now or as it last read;
        in the files' order."""
        with self._lock:
            self._refresh()
            return self._values

    def problems(self) -> list[FileProblem]:
        """The files that cannot be read as they are now."""
        with self._lock:
            self._refresh()
            return [FileProblem(self.kind, path, reading.error.located(),
                                reading.value is not None)
                    for path, reading in self._readings.items() if reading.error]

    def unread(self) -> list[ConfigError]:
        """The errors of the files that have never been read (a command cannot go on without
        them, as the service does)."""
        with self._lock:
            self._refresh()
            return [r.error for r in self._readings.values() if r.error and r.value is None]

    def _refresh(self) -> None:
        readings = {path: self._reading(path) for path in self._files()}
        if readings.keys() != self._readings.keys() or any(
                reading is not self._readings[path] for path, reading in readings.items()):
            self._values = tuple(r.value for r in readings.values() if r.value is not None)
        self._readings = readings

    def _reading(self, path: Path) -> _Reading[T]:
        before = self._readings.get(path)
        stamp = _stamp(path)
        if before is not None and before.stamp == stamp:
            return before
        try:
            return _Reading(stamp, self._read(path), None)
        except (ConfigError, OSError) as exc:
            error = exc if isinstance(exc, ConfigError) else ConfigError(
                f"cannot be read: {exc.strerror or type(exc).__name__}", path=str(path))
        kept = before.value if before else None
        log.error("%s; %s", _one_line(error), "still using the version before this edit"
                  if kept is not None else "nothing in it is used until it is fixed")
        return _Reading(stamp, kept, error)


def _one_line(error: ConfigError) -> str:
    """An error in one line, for the log: its first problem, and how many more there are
    (a query's problem goes on with the query's line and a caret)."""
    more = len(error.errors) - 1 if isinstance(error, ConfigErrors) else 0
    first = error.located().splitlines()[0]
    return first + (f" (and {more} more problem{'s' if more > 1 else ''} in the file)"
                    if more else "")


def _stamp(path: Path) -> tuple[int, int]:
    try:
        status = path.stat()
    except FileNotFoundError:
        return (-1, -1)
    return (status.st_mtime_ns, status.st_size)
