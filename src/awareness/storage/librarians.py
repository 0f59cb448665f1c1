"""Librarian accounts (shell: SQL only). Passwords arrive here already hashed."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from awareness.model import LibrarianLogin
from awareness.storage.models import Librarian

_LOGIN = select(Librarian.name, Librarian.password_hash, Librarian.session_version).where(
    Librarian.name == bindparam("name"))
_SESSION_VERSION = select(Librarian.session_version).where(Librarian.name == bindparam("name"))
_ADD = insert(Librarian)
# One statement, so that two logouts at once both count (no read-modify-write).
_END_SESSIONS = (update(Librarian).where(Librarian.name == bindparam("librarian"))
                 .values(session_version=Librarian.session_version + 1))


def login_of(conn: Connection, name: str) -> LibrarianLogin | None:
    """What signing in as ``name`` checks against, if there is such a librarian."""
    row = conn.execute(_LOGIN, {"name": name}).one_or_none()
    return LibrarianLogin(row.name, row.password_hash, row.session_version) if row else None


def session_version(conn: Connection, name: str) -> int | None:
    """The librarian's current session version; None when there is no such librarian."""
    return conn.scalar(_SESSION_VERSION, {"name": name})


def add_librarian(conn: Connection, name: str, password_hash: str, *, now: datetime) -> None:
    """Create an account whose sessions start at version 1."""
    conn.execute(_ADD, {"name": name, "password_hash": password_hash, "session_version": 1,
                        "created_at": now})


def end_sessions(conn: Connection, name: str) -> None:
    """Move the librarian's session version on, so that every older cookie stops working."""
    conn.execute(_END_SESSIONS, {"librarian": name})


def set_email(conn: Connection, name: str, email: str | None) -> bool:
    """Set (or clear) the librarian's address; False when there is no such librarian."""
    done = conn.execute(update(Librarian).where(Librarian.name == name).values(email=email))
    return bool(done.rowcount)


def emails(conn: Connection, names: Collection[str] | None = None) -> dict[str, str]:
    """The address of each librarian (of ``names``, when given) who has one."""
    query = select(Librarian.name, Librarian.email).where(Librarian.email.is_not(None))
    if names is not None:
        query = query.where(Librarian.name.in_(sorted(names)))
    return {name: email for name, email in conn.execute(query) if email}


def names(conn: Connection) -> list[str]:
    """Every librarian's user name."""
    return list(conn.scalars(select(Librarian.name).order_by(Librarian.name)))
