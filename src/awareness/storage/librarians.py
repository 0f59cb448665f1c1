"""Librarian accounts and their history (shell: SQL only). Passwords arrive here already
hashed."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from awareness.model import LibrarianEvent, LibrarianInfo, LibrarianLogin
from awareness.storage.models import BarredIdentity, Librarian
from awareness.storage.models import LibrarianEvent as EventRow

_ACCOUNT = select(Librarian.name, Librarian.password_hash, Librarian.session_version,
                  Librarian.role, Librarian.sso, Librarian.sso_subject)
_LOGIN = _ACCOUNT.where(Librarian.name == bindparam("name"))
_BY_SUBJECT = _ACCOUNT.where(Librarian.sso_subject == bindparam("subject"))
_STANDING = select(Librarian.session_version, Librarian.role).where(
    Librarian.name == bindparam("name"))
_ADD = insert(Librarian).values(session_version=select(
    func.coalesce(func.max(Librarian.session_version), 0) + 1).scalar_subquery())
# One statement, so that two logouts at once both count (no read-modify-write).
_END_SESSIONS = (update(Librarian).where(Librarian.name == bindparam("librarian"))
                 .values(session_version=Librarian.session_version + 1))


def login_of(conn: Connection, name: str) -> LibrarianLogin | None:
    """What signing in as ``name`` checks against, if there is such a librarian."""
    return _login(conn.execute(_LOGIN, {"name": name}).one_or_none())


def login_by_subject(conn: Connection, subject: str) -> LibrarianLogin | None:
    """The account the single sign-on identity ``subject`` ("<iss> <sub>") signs in to."""
    return _login(conn.execute(_BY_SUBJECT, {"subject": subject}).one_or_none())


def _login(row: Row[str, str, int, str, bool, str | None] | None) -> LibrarianLogin | None:
    return (LibrarianLogin(row.name, row.password_hash, row.session_version, row.role,
                           bool(row.sso), row.sso_subject) if row else None)


def session_version(conn: Connection, name: str) -> int | None:
    """The librarian's current session version; None when there is no such librarian."""
    found = standing(conn, name)
    return found[0] if found else None


def standing(conn: Connection, name: str) -> tuple[int, str] | None:
    """The librarian's session version and role (read on every request, so a role change
    applies at once); None when there is no such librarian."""
    row = conn.execute(_STANDING, {"name": name}).one_or_none()
    return (row.session_version, row.role) if row else None


def add_librarian(conn: Connection, name: str, password_hash: str, *, now: datetime,
                  role: str = "administrator", sso: bool = False) -> None:
    """Create an account whose sessions start past every version any account holds: a name
    can be given up (single sign-on renames an account whose user name changed) and taken
    again, and a cookie still carrying the old holder's name and version must not fit."""
    conn.execute(_ADD, {"name": name, "password_hash": password_hash, "created_at": now,
                        "role": role, "sso": sso})


def set_role(conn: Connection, name: str, role: str) -> None:
    """Give the librarian ``role``."""
    conn.execute(update(Librarian).where(Librarian.name == name).values(role=role))


def set_password(conn: Connection, name: str, password_hash: str) -> None:
    """Give the librarian a new password (already hashed) and end every session of theirs."""
    conn.execute(update(Librarian).where(Librarian.name == name)
                 .values(password_hash=password_hash,
                         session_version=Librarian.session_version + 1))


def remove(conn: Connection, name: str, *, role: str, password_hash: str) -> None:
    """Close the account: ``role`` and ``password_hash`` that grant and open nothing, no
    address, and every session ended. The row stays, with its session version, so that a
    new account of the same name starts past its cookies, and with its single sign-on
    identity, so that the identity's next sign-in finds it closed rather than making it
    again."""
    conn.execute(update(Librarian).where(Librarian.name == name)
                 .values(role=role, password_hash=password_hash, email=None,
                         session_version=Librarian.session_version + 1))


def reopen(conn: Connection, name: str, password_hash: str, *, role: str,
           now: datetime) -> None:
    """Give a removed account's name to a new account: a password, a role, a new creation
    time, no single sign-on identity (the old holder's is not the new one's: ``bar`` it
    first), and sessions past every cookie of the old one."""
    conn.execute(update(Librarian).where(Librarian.name == name)
                 .values(password_hash=password_hash, role=role, created_at=now, sso=False,
                         sso_subject=None, session_version=Librarian.session_version + 1))


def bar(conn: Connection, subject: str, *, name: str, now: datetime) -> None:
    """Refuse the single sign-on identity ``subject``, which signed in to ``name``, for good."""
    conn.execute(insert(BarredIdentity), {"subject": subject, "name": name, "barred_at": now})


def barred_from(conn: Connection, subject: str) -> str | None:
    """The name the identity ``subject`` signed in to until it was barred; None when it was
    never barred."""
    return conn.scalar(select(BarredIdentity.name).where(BarredIdentity.subject == subject))


def set_sso(conn: Connection, name: str, *, subject: str, email: str | None) -> None:
    """Mark the account as signing in through single sign-on as the identity ``subject``
    (its address from the identity provider, when it gave one)."""
    values: dict[str, object] = {"sso": True, "sso_subject": subject}
    if email:
        values["email"] = email
    conn.execute(update(Librarian).where(Librarian.name == name).values(**values))


def release_subject(conn: Connection, name: str) -> bool:
    """Forget which identity signs in to ``name``; False when there is no such account."""
    done = conn.execute(update(Librarian).where(Librarian.name == name)
                        .values(sso_subject=None))
    return bool(done.rowcount)


def rename(conn: Connection, old: str, new: str) -> None:
    """Give the account ``old`` the name ``new``, and its history with it. Reviews and other
    records keep the name they were made under (the history's "renamed" line links them)."""
    conn.execute(update(Librarian).where(Librarian.name == old).values(name=new))
    conn.execute(update(EventRow).where(EventRow.librarian == old).values(librarian=new))


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


def holding(conn: Connection, role: str) -> int:
    """How many accounts hold ``role``."""
    return conn.scalar(select(func.count()).select_from(Librarian)
                       .where(Librarian.role == role)) or 0


def names(conn: Connection) -> list[str]:
    """Every librarian's user name."""
    return list(conn.scalars(select(Librarian.name).order_by(Librarian.name)))


def everyone(conn: Connection, *, removed: str) -> list[LibrarianInfo]:
    """Every librarian account, by name, but those whose role is ``removed``."""
    rows = conn.execute(select(Librarian.name, Librarian.role, Librarian.email, Librarian.sso,
                               Librarian.created_at).where(Librarian.role != removed)
                        .order_by(Librarian.name))
    return [LibrarianInfo(r.name, r.role, r.email or "", bool(r.sso), r.created_at)
            for r in rows]


def record_event(conn: Connection, librarian: str, action: str, detail: str, *, by: str,
                 now: datetime) -> None:
    """Add a line to the accounts' history."""
    conn.execute(insert(EventRow), {"librarian": librarian, "action": action,
                                    "detail": detail, "by": by, "at": now})


def events(conn: Connection, limit: int = 100) -> list[LibrarianEvent]:
    """The latest changes to librarian accounts, newest first."""
    rows = conn.execute(select(EventRow.librarian, EventRow.action, EventRow.detail,
                               EventRow.by, EventRow.at)
                        .order_by(EventRow.at.desc(), EventRow.id.desc()).limit(limit))
    return [LibrarianEvent(r.librarian, r.action, r.detail, r.by, r.at) for r in rows]


def last_event(conn: Connection, librarian: str) -> LibrarianEvent | None:
    """The latest line of ``librarian``'s history, if any."""
    row = conn.execute(select(EventRow.librarian, EventRow.action, EventRow.detail,
                              EventRow.by, EventRow.at)
                       .where(EventRow.librarian == librarian)
                       .order_by(EventRow.at.desc(), EventRow.id.desc()).limit(1)).first()
    return LibrarianEvent(row.librarian, row.action, row.detail, row.by, row.at) if row else None
