"""Librarian accounts (shell: SQL only). Passwords arrive here already hashed."""

from __future__ import annotations

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
