"""Librarian accounts: create one, sign in, and end every session of one (logout).

Passwords are hashed with argon2id before a write transaction begins: hashing is slow on
purpose, and a write transaction holds nothing but writes (issue 11).
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from awareness.errors import AwarenessError
from awareness.mail.compose import one_address
from awareness.service.context import Context
from awareness.storage import librarians
from awareness.storage.db import reading, writing

_hasher = PasswordHasher()
# Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password")
MIN_PASSWORD = 12


def add_librarian(ctx: Context, name: str, password: str) -> None:
    """Create a librarian account (password hashed with argon2id)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]{2,100}", name):
        raise AwarenessError("librarian names are 2-100 letters, digits, dots, dashes")
    if len(password) < MIN_PASSWORD:
        raise AwarenessError(f"password too short: use at least {MIN_PASSWORD} characters")
    password_hash = _hasher.hash(password)
    with writing(ctx.engine) as conn:
        if librarians.login_of(conn, name) is not None:
            raise AwarenessError(f"librarian {name!r} already exists")
        librarians.add_librarian(conn, name, password_hash, now=ctx.now())


def authenticate(ctx: Context, name: str, password: str) -> tuple[str, int] | None:
    """(name, session version) when the password is right, else None."""
    with reading(ctx.engine) as conn:
        login = librarians.login_of(conn, name)
    try:
        _hasher.verify(login.password_hash if login else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return (login.name, login.session_version) if login else None


def session_version(ctx: Context, name: str) -> int | None:
    """The librarian's session version, which a cookie must carry; None for an unknown name."""
    with reading(ctx.engine) as conn:
        return librarians.session_version(conn, name)


def end_sessions(ctx: Context, name: str) -> None:
    """Invalidate every session cookie of a librarian (logout everywhere)."""
    with writing(ctx.engine) as conn:
        librarians.end_sessions(conn, name)


def set_email(ctx: Context, name: str, email: str) -> None:
    """Set the librarian's address (bulletin reminders and test sends go there)."""
    try:
        address = one_address(email.strip())
    except ValueError as err:
        raise AwarenessError(f"{err}; give one plain address such as alice@nhs.net") from None
    with writing(ctx.engine) as connection:
        if not librarians.set_email(connection, name, address):
            raise AwarenessError(f"no librarian {name!r}; add them with "
                                 f"`awareness librarians add {name}`")


def email_of(ctx: Context, name: str) -> str:
    """The librarian's address, or "" when they have none."""
    with reading(ctx.engine) as connection:
        return librarians.emails(connection, [name]).get(name, "")
