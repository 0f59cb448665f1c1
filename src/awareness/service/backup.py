"""A copy of everything the service keeps, to put where backups go: the SQLite database,
checked, and the signing key generated in the data folder (without it, every link in every
mail already sent — unsubscribe, preferences, feedback — stops working after a restore).
PostgreSQL is backed up with its own tools (docs/operations.md)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from awareness.errors import AwarenessError
from awareness.service.context import Context
from awareness.storage.db import backup_sqlite


@dataclass(frozen=True)
class Backup:
    database: Path
    size: int  # bytes
    key: Path | None  # the generated signing key's copy; None when it comes from the environment


def backup(ctx: Context, destination: str | Path) -> Backup:
    """Copy the database (and a generated signing key) to ``destination``: a new file, or a
    folder — one that exists, or a name ending in ``/``, which is made — in which the copy
    is named for the moment it was taken (``awareness-20261207-1530.db``) so that a nightly
    job keeps one a night."""
    engine = ctx.engine
    if engine.dialect.name != "sqlite":
        raise AwarenessError(
            "the database is PostgreSQL: back it up with pg_dump, e.g. `pg_dump "
            "--format=custom --file=awareness.dump DBNAME` (docs/operations.md)")
    folder = str(destination).endswith(("/", os.sep))
    destination = Path(destination)
    if folder:  # a path's trailing slash is lost by Path: it meant a folder, not a file
        destination.mkdir(parents=True, exist_ok=True, mode=0o700)
    if destination.is_dir():
        stamp = ctx.now().astimezone(ctx.settings.timezone)
        destination = destination / f"awareness-{stamp:%Y%m%d-%H%M}.db"
    if destination.exists():
        raise AwarenessError(f"{destination} exists already; name a new file, or a folder")
    if not destination.parent.is_dir():
        raise AwarenessError(f"no folder {destination.parent}; create it first")
    try:
        verdict = backup_sqlite(engine, destination)
    except FileExistsError:  # made meanwhile
        raise AwarenessError(
            f"{destination} exists already; name a new file, or a folder") from None
    if verdict != "ok":
        raise AwarenessError(f"the copy failed SQLite's integrity check ({verdict}); nothing "
                             "was written: check the disk, and the database with `sqlite3 "
                             "FILE 'PRAGMA integrity_check'`")
    key = None
    if not ctx.settings.web.secret_key:
        ctx.secret()  # generated now if it never was: the backup must hold the one in use
        key = destination.with_name(destination.name + ".secret-key")
        os.close(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        shutil.copyfile(ctx.settings.paths.data / "secret-key", key)
    return Backup(destination, destination.stat().st_size, key)
