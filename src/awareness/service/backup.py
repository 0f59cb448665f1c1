"""A copy of everything the service keeps, to put where backups go: the SQLite database,
checked, and the signing key generated in the data folder (without it, every link in every
mail already sent — unsubscribe, preferences, feedback — stops working after a restore);
and such a copy put back in place. PostgreSQL is backed up and restored with its own tools
(docs/operations.md)."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from awareness.errors import AwarenessError
from awareness.leader import scheduler_runs
from awareness.service.context import Context
from awareness.storage.db import (
    backup_sqlite,
    check_sqlite_file,
    head_revisions,
    sqlite_files,
    sqlite_in_use,
)


@dataclass(frozen=True)
class Backup:
    database: Path
    size: int  # bytes
    key: Path | None  # the generated signing key's copy; None when it comes from the environment


def backup(ctx: Context, destination: str | Path) -> Backup:
    """Copy the database (and a generated signing key) to ``destination``: a new file, or a
    folder — one that exists, or a name ending in ``/``, which is made — in which the copy
    is named for the moment it was taken (``awareness-20261207-153012.db``, and ``-2``, ``-3``
    after it for more copies in the same second) so that a nightly job keeps one a night."""
    engine = ctx.engine
    if engine.dialect.name != "sqlite":
        raise AwarenessError(
            "the database is PostgreSQL: back it up with pg_dump, e.g. `pg_dump "
            "--format=custom --file=awareness.dump DBNAME` (docs/operations.md)")
    stamp = f"{ctx.now().astimezone(ctx.settings.timezone):%Y%m%d-%H%M%S}"
    targets, named = _destinations(destination, stamp)
    for target in targets:
        try:
            verdict = backup_sqlite(engine, target)
            break
        except FileExistsError:  # made meanwhile (a folder's next name is tried)
            if named:
                raise AwarenessError(_taken(target)) from None
    if verdict != "ok":
        raise AwarenessError(f"the copy failed SQLite's integrity check ({verdict}); nothing "
                             "was written: check the disk, and the database with `sqlite3 "
                             "FILE 'PRAGMA integrity_check'`")
    key = None
    if not ctx.settings.web.secret_key:
        ctx.secret()  # generated now if it never was: the backup must hold the one in use
        key = _key_beside(target)
        os.close(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        shutil.copyfile(ctx.settings.paths.data / "secret-key", key)
    return Backup(target, target.stat().st_size, key)


def _destinations(destination: str | Path, stamp: str) -> tuple[Iterable[Path], bool]:
    """Where the copy may go, first choice first, and whether that is a file named by the
    caller (True) rather than names made in a folder."""
    folder = str(destination).endswith(("/", os.sep))
    path = Path(destination)  # a path's trailing slash is lost by Path: it meant a folder
    if folder and path.exists() and not path.is_dir():
        raise AwarenessError(f"{path} is a file, not a folder: name a folder, or a new file")
    if folder:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.is_dir():
        return _unused_names(path, stamp), False
    if path.exists():
        raise AwarenessError(_taken(path))
    if not path.parent.is_dir():
        raise AwarenessError(f"no folder {path.parent}; create it first")
    return [path], True


def _unused_names(folder: Path, stamp: str) -> Iterator[Path]:
    """``awareness-STAMP.db`` in ``folder``, then ``awareness-STAMP-2.db`` (``-3``…): those
    not there yet with their key, for copies made in the same second."""
    names = (folder / f"awareness-{stamp}{f'-{number}' if number > 1 else ''}.db"
             for number in itertools.count(1))
    return (path for path in names if not path.exists() and not _key_beside(path).exists())


def _key_beside(copy: Path) -> Path:
    """Where the signing key goes beside a copy of the database."""
    return copy.with_name(copy.name + ".secret-key")


def _taken(path: Path) -> str:
    return f"{path} exists already; name a new file, or a folder"


@dataclass(frozen=True)
class Restored:
    database: Path  # where the copy now is: the database the settings name
    schema: str  # the copy's schema revision
    set_aside: tuple[Path, ...]  # the database it replaced, with its -wal and -shm
    key: Path | None  # the signing key put in the data folder; None: none beside the copy
    key_set_aside: Path | None  # the signing key it replaced

    @property
    def needs_upgrade(self) -> bool:
        """Whether the copy's schema is older than this release's (``awareness init``)."""
        return self.schema != ",".join(head_revisions())


def restore(ctx: Context, copy: str | Path) -> Restored:
    """Put the SQLite database ``copy`` (an ``awareness backup``) where the settings say the
    database is, with the signing key copied beside it, once it passes SQLite's integrity
    check, and while no process has the database open. The database it replaces is set
    aside with its ``-wal`` and ``-shm``, never deleted: left beside the copy, a ``-wal``
    would be read as part of it, and the copy would read as the newer data it replaced."""
    if ctx.engine.dialect.name != "sqlite":
        raise AwarenessError(
            "the database is PostgreSQL: restore a pg_dump copy with pg_restore, e.g. "
            "`pg_restore --clean --dbname=DBNAME FILE`, and set the same "
            "AWARENESS_WEB_SECRET_KEY (docs/operations.md)")
    copy = Path(copy)
    target = Path(str(ctx.engine.url.database))
    if not copy.is_file():
        raise AwarenessError(f"no file {copy}: name a copy `awareness backup` made")
    if copy.resolve() == target.resolve():
        raise AwarenessError(f"{copy} is the database itself: name a copy of it")
    _refuse_while_in_use(ctx, target)
    stamp = f"{ctx.now().astimezone(ctx.settings.timezone):%Y%m%d-%H%M%S}"
    staged, schema = _staged(copy, target)
    try:
        set_aside = _set_aside(target, stamp)
        os.link(staged, target)  # never over a database made meanwhile (FileExistsError)
    finally:
        staged.unlink()
    key, key_set_aside = _restore_key(ctx, copy, stamp)
    return Restored(target, schema, set_aside, key, key_set_aside)


def _refuse_while_in_use(ctx: Context, target: Path) -> None:
    """Stop when a process of this machine has the database open, or runs the scheduler."""
    ctx.engine.dispose()  # this process's own connection would hide the others' (POSIX)
    if sqlite_in_use(target) or scheduler_runs(ctx.settings.paths.data):
        raise AwarenessError(
            f"{target} is in use: stop every process of the service (`awareness run`, its "
            "schedulers and workers, and any command still running) and restore again")


def _staged(copy: Path, target: Path) -> tuple[Path, str]:
    """``copy`` copied beside ``target`` under a name of its own, owner-readable only, and
    checked; the staged file and its schema revision. Nothing is left when it fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.restoring")
    os.close(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        shutil.copyfile(copy, staged)
        verdict, schema = check_sqlite_file(staged)
        if verdict != "ok":
            raise AwarenessError(f"{copy} fails SQLite's integrity check ({verdict}): restore "
                                 "another copy; nothing was changed")
        if schema is None:
            raise AwarenessError(f"{copy} holds no database of this service (no schema "
                                 "version): name a copy `awareness backup` made")
    except BaseException:
        staged.unlink()
        raise
    return staged, schema


def _set_aside(target: Path, stamp: str) -> tuple[Path, ...]:
    """Rename the database at ``target`` and its -wal and -shm, those there are, to names
    that say when (``awareness-replaced-20261207-153012.db``, ``…db-wal``): together they
    are still the database as it was. The database first: should this stop half way, a
    -wal left at ``target`` stops the copy from taking its place."""
    aside = target.with_name(f"{target.stem}-replaced-{stamp}{target.suffix}")
    pairs = [(now, then) for now, then in zip(sqlite_files(target), sqlite_files(aside),
                                               strict=True) if now.exists()]
    for _, then in pairs:
        if then.exists():
            raise AwarenessError(f"{then} exists already: restore again in a second")
    for now, then in pairs:
        os.rename(now, then)
    left = [path for path in sqlite_files(target) if path.exists()]
    if left:  # a process wrote them meanwhile: it has the database open
        raise AwarenessError(f"{left[0]} appeared while restoring: a process has the "
                             "database open; stop it and restore again")
    return tuple(then for _, then in pairs)


def _restore_key(ctx: Context, copy: Path, stamp: str) -> tuple[Path | None, Path | None]:
    """The signing key that ``awareness backup`` copied beside ``copy``, put in the data
    folder (the key there before set aside, unless it is the same); (None, None) when there
    is none beside it."""
    saved = _key_beside(copy)
    if not saved.is_file():
        return None, None
    key = ctx.settings.paths.data / "secret-key"
    aside = None
    if key.exists():
        if key.read_bytes() == saved.read_bytes():
            return key, None
        aside = key.with_name(f"secret-key-replaced-{stamp}")
        os.rename(key, aside)
    key.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    shutil.copyfile(saved, key)
    return key, aside
