"""Librarian accounts (service/librarians.py, storage/librarians.py) on SQLite and PostgreSQL:
creating one, signing in, and ending every session of one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from awareness.errors import AwarenessError
from awareness.service import librarians
from awareness.service.context import Context
from awareness.storage import librarians as stored
from awareness.storage.db import reading, writing

PASSWORD = "correct horse battery"


def test_sign_in_needs_the_right_name_and_password(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    librarians.add_librarian(ctx, "alice", PASSWORD)
    assert librarians.authenticate(ctx, "alice", PASSWORD) == ("alice", 1)
    assert librarians.authenticate(ctx, "alice", PASSWORD + "!") is None
    assert librarians.authenticate(ctx, "mallory", PASSWORD) is None
    with reading(ctx.engine) as conn:
        login = stored.login_of(conn, "alice")
    assert login is not None and login.password_hash.startswith("$argon2id$")
    assert login.password_hash not in repr(login)


@pytest.mark.parametrize(("name", "password", "message"), [
    ("a", PASSWORD, "librarian names are 2-100"),
    ("alice smith", PASSWORD, "librarian names are 2-100"),
    ("bob", "short", "password too short"),
    ("alice", PASSWORD, "librarian 'alice' already exists"),
])
def test_accounts_refused(make_context: Callable[..., Context], name: str, password: str,
                          message: str) -> None:
    ctx = make_context()
    librarians.add_librarian(ctx, "alice", "another long password")
    with pytest.raises(AwarenessError, match=message):
        librarians.add_librarian(ctx, name, password)
    # The existing account is untouched: its own password still signs in.
    assert librarians.authenticate(ctx, "alice", "another long password") == ("alice", 1)
    assert librarians.session_version(ctx, "bob") is None


def test_ending_sessions_moves_the_version_on_for_that_librarian_only(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    librarians.add_librarian(ctx, "alice", PASSWORD)
    librarians.add_librarian(ctx, "bob", PASSWORD)
    alice, bob = (librarians.session_version(ctx, name) for name in ("alice", "bob"))
    assert alice == 1 and bob == 2  # a new account starts past every version held
    librarians.end_sessions(ctx, "alice")
    with writing(ctx.engine) as conn:
        stored.end_sessions(conn, "alice")
        stored.end_sessions(conn, "nobody")  # an unknown name changes nothing
    assert librarians.session_version(ctx, "alice") == 3
    assert librarians.session_version(ctx, "bob") == 2
    assert librarians.session_version(ctx, "nobody") is None
    assert librarians.authenticate(ctx, "alice", PASSWORD) == ("alice", 3)
