"""Librarian accounts: create one, sign in, change a role or a password (an administrator's
for someone, or a librarian's own), remove one (a librarian who left), and end every session
of one (logout). Single sign-on accounts are made
and updated by ``sign_in_from_sso``.

Passwords are hashed with argon2id before a write transaction begins: hashing is slow on
purpose, and a write transaction holds nothing but writes (issue 11). Every account made and
every role or password changed and every account removed is recorded with who did it
(``history``).

A removed account keeps its row, with the role ``REMOVED`` (no role: it may nothing), a
password hash no password verifies against, its sessions and API tokens ended, and its single
sign-on identity: that identity's next sign-in is refused, whatever its groups say, and so is
a new identity's under its name (``sign_in_from_sso``). An administrator either restores the
account (``restore``: the same person again) or gives its name to a new account
(``add_librarian``), whose sessions start past every cookie of the old one and which no
identity signs in to yet, for the new person's first sign-in to adopt; the old holder's
identity, which could adopt it as well, is barred for good (``release_sso`` bars nothing).
"""

from __future__ import annotations

import functools
import re
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection

from awareness.addresses import address_problem, is_email_address
from awareness.errors import AccountRemoved, AwarenessError, NotFound
from awareness.model import LibrarianEvent, LibrarianInfo, LibrarianLogin
from awareness.roles import REMOVED, ROLES, allows, is_role
from awareness.service.context import Context
from awareness.storage import api_tokens, librarians
from awareness.storage.db import Conflict, reading, writing

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the name is unknown, so a wrong name costs as long as a wrong
    password. Made at the first sign-in, not at import: an argon2id hash takes 64 MiB, which
    every process importing this module (the poller, for the steering group's mail) kept as
    its peak memory."""
    return _hasher.hash("not a password")


MIN_PASSWORD = 12
# Letters, digits and . _ - for local names; @ ' + too, for single sign-on names, which are
# user principal names or addresses (jo.o'brien@nhs.net).
NAME = re.compile(r"[A-Za-z0-9._@'+-]{2,100}")
# Stored as the password hash of a single sign-on account: not an argon2 hash, so no
# password ever verifies against it.
NO_PASSWORD = "!sso"
# Stored as the password hash of a removed account, for the same reason.
REMOVED_PASSWORD = "!removed"
# A removed account's refused sign-ins are recorded once a day at most: someone whose
# bookmark or phone keeps trying would otherwise fill the accounts' history.
REFUSALS_APART = timedelta(days=1)
# The history's line when a barred identity tries: the account it asks for is someone else's.
BARRED = "the name's former holder, removed before it was given to someone new"


def add_librarian(ctx: Context, name: str, password: str, *, role: str = "administrator",
                  by: str = "") -> None:
    """Create a librarian account (password hashed with argon2id) holding ``role``.
    The default is the role every account had before roles existed."""
    _check_name(name)
    _check_role(role)
    password_hash = _hashed(password)
    with writing(ctx.engine) as conn:
        login = librarians.login_of(conn, name)
        detail = f"as {role}"
        if login is None:
            librarians.add_librarian(conn, name, password_hash, now=ctx.now(), role=role)
        elif login.role == REMOVED:
            detail += _give_name_anew(conn, ctx, login, password_hash, role)
        else:
            raise AwarenessError(f"librarian {name!r} already exists")
        librarians.record_event(conn, name, "added", detail, by=by or name, now=ctx.now())


def _give_name_anew(conn: Connection, ctx: Context, login: LibrarianLogin,
                    password_hash: str, role: str) -> str:
    """Give the removed account ``login``'s name to a new person, barring the old holder's
    single sign-on identity; what the history's "added" line says of it."""
    librarians.reopen(conn, login.name, password_hash, role=role, now=ctx.now())
    if login.sso_subject is None:
        return ""
    librarians.bar(conn, login.sso_subject, name=login.name, now=ctx.now())
    return "; the former holder's single sign-on is refused for good"


def set_password(ctx: Context, name: str, password: str, *, by: str) -> int:
    """Give ``name`` a new password (one they forgot, or one a stranger may know): every
    session of theirs ends; recorded in the history. Their API tokens stay. The session
    version a new session of theirs carries (a librarian who changed their own password
    goes on in a new one)."""
    password_hash = _hashed(password)
    with writing(ctx.engine) as conn:
        _password_settable(_account(conn, name))
        librarians.set_password(conn, name, password_hash)
        librarians.record_event(conn, name, "password", "set anew; sessions ended", by=by,
                                now=ctx.now())
        return _account(conn, name).session_version


def check_password_settable(ctx: Context, name: str) -> None:
    """Raise what ``set_password`` would refuse for ``name`` whatever the password (no such
    librarian, or one who signs in with single sign-on): asked before anyone types one."""
    if signs_in_with_sso(ctx, name):
        raise AwarenessError(_sso_password(name))


def signs_in_with_sso(ctx: Context, name: str) -> bool:
    """Does ``name`` sign in with single sign-on (their password is not this service's)?"""
    with reading(ctx.engine) as conn:
        return _account(conn, name).sso


def _password_settable(login: LibrarianLogin) -> None:
    if login.sso:
        raise AwarenessError(_sso_password(login.name))


def _sso_password(name: str) -> str:
    return (f"{name} signs in with single sign-on: their password is the identity "
            "provider's, not this service's")


def remove(ctx: Context, name: str, *, by: str) -> int:
    """Close the account of a librarian who left: they can no longer sign in, every session
    of theirs ends and every API token of theirs is revoked; recorded in the history. What
    they did (reviews, edits, the history) keeps their name. The last administrator is never
    removed. How many tokens were revoked."""
    with writing(ctx.engine) as conn:
        login = _account(conn, name)
        _keep_an_administrator(conn, login)
        revoked = api_tokens.revoke_all(conn, name, now=ctx.now())
        librarians.remove(conn, name, role=REMOVED, password_hash=REMOVED_PASSWORD)
        tokens = f"{revoked} API token{'' if revoked == 1 else 's'} revoked"
        librarians.record_event(conn, name, "removed", f"sessions ended, {tokens}", by=by,
                                now=ctx.now())
    return revoked


def restore(ctx: Context, name: str, *, role: str = "reviewer", by: str) -> bool:
    """Re-admit the removed account ``name`` (removed by mistake, or its holder came back),
    with ``role``; recorded in the history. True when it signs in with single sign-on: it
    does again, and its groups set its role at its next sign-in. False for a password
    account, which has no password until ``set_password`` gives it one."""
    _check_role(role)
    with writing(ctx.engine) as conn:
        login = librarians.login_of(conn, name)
        if login is None:
            raise NotFound(f"no librarian {name!r}: the history on /librarians names those "
                           "removed")
        if login.role != REMOVED:
            raise AwarenessError(f"{name} was not removed: there is nothing to restore")
        librarians.set_role(conn, name, role)
        if login.sso:
            librarians.set_password(conn, name, NO_PASSWORD)
        detail = (f"single sign-on again, as {role} until their groups set it" if login.sso
                  else f"as {role}, with no password until one is set")
        librarians.record_event(conn, name, "restored", detail, by=by, now=ctx.now())
    return login.sso


def _keep_an_administrator(conn: Connection, login: LibrarianLogin) -> None:
    """Refuse to take the role from the last administrator: nobody could then manage the
    accounts or see the settings from the web pages."""
    if login.role == "administrator" and librarians.holding(conn, "administrator") < 2:
        raise AwarenessError(f"{login.name} is the last administrator: make someone else an "
                             "administrator first")


def _account(conn: Connection, name: str) -> LibrarianLogin:
    """The account ``name``, which was not removed."""
    login = librarians.login_of(conn, name)
    if login is None or login.role == REMOVED:
        raise NotFound(f"no librarian {name!r}; `awareness librarians list` shows them")
    return login


def _hashed(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AwarenessError(f"password too short: use at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def set_role(ctx: Context, name: str, role: str, *, by: str) -> bool:
    """Give ``name`` the role ``role``, recorded in the history; False when they held it
    already (nothing is recorded then)."""
    _check_role(role)
    with writing(ctx.engine) as conn:
        login = _account(conn, name)
        if login.role == role:
            return False
        _keep_an_administrator(conn, login)
        librarians.set_role(conn, name, role)
        librarians.record_event(conn, name, "role", f"{login.role} → {role}", by=by,
                                now=ctx.now())
    return True


def release_sso(ctx: Context, name: str, *, by: str) -> bool:
    """Let the next single sign-on as ``name`` adopt the account, whichever identity it is
    (after the identity provider's app registration was replaced, every subject changes).
    Its sessions end; recorded in the history. False, changing nothing, when no identity
    signs in to the account (a password account, or one released already)."""
    with writing(ctx.engine) as conn:
        login = _account(conn, name)
        if login.sso_subject is None:
            return False
        librarians.release_subject(conn, name)
        librarians.end_sessions(conn, name)
        librarians.record_event(conn, name, "released", "single sign-on identity forgotten",
                                by=by, now=ctx.now())
    return True


def sign_in_from_sso(ctx: Context, name: str, role: str, email: str,
                     subject: str) -> tuple[str, int, str]:
    """Sign in the identity ``subject`` (the ID token's "<iss> <sub>") with the user name
    ``name`` and the role the identity provider's claims give it (at every sign-in, so a
    group change applies at the next one); (name, session version, role) for the session.

    The subject, not the name, says whose account it is (docs/web.md "Single sign-on"): an
    Entra user principal name can change, and a freed one can be given to someone else. The
    subject's account takes the new name when it changed; without one, an account of that
    name that no identity signs in to yet (a password account, or one from before subjects
    were kept) becomes its account: the identity provider vouches for the name. An account
    of that name that another identity signs in to is never taken over.

    A removed account stays closed (``AccountRemoved``, the refusal recorded in its
    history): to its own identity, whatever the groups say, and to a new identity with its
    name, which an administrator gives to a new person with ``add_librarian``. Its old
    identity is then refused for good, under any name, the refusal recorded in the history
    of the name it held."""
    _check_name(name)
    _check_role(role)
    if not subject.strip():
        raise AwarenessError("the identity provider gave no subject (sub) for the user")
    address = _address_or_none(email)
    try:
        return _sso_sign_in(ctx, name, role, address, subject)
    except Conflict:  # the identity's first sign-in, twice at once: the other made the account
        return _sso_sign_in(ctx, name, role, address, subject)


def _sso_sign_in(ctx: Context, name: str, role: str, address: str | None,
                 subject: str) -> tuple[str, int, str]:
    with writing(ctx.engine) as conn:
        login = librarians.login_by_subject(conn, subject)
        refusal = _refusal(conn, login, name, subject)
        if refusal is None:
            return _open_sso_account(conn, ctx, login, name, role, address, subject)
        account, detail = refusal
        last = librarians.last_event(conn, account)
        if not (last and (last.action, last.detail) == ("refused", detail)
                and ctx.now() - last.at < REFUSALS_APART):
            librarians.record_event(conn, account, "refused", detail, by="single sign-on",
                                    now=ctx.now())
    raise AccountRemoved(account)  # after the refusal's record is committed


def _refusal(conn: Connection, login: LibrarianLogin | None, name: str,
             subject: str) -> tuple[str, str] | None:
    """Why the identity ``subject`` (whose account is ``login``) may not sign in as
    ``name``: the account whose history records it, and the line's detail. None when it
    may."""
    barred = librarians.barred_from(conn, subject) if login is None else None
    if barred is not None:
        return barred, BARRED if name == barred else f"{BARRED} (signing in as {name})"
    removed = _removed_account(conn, login, name)
    if removed is None:
        return None
    return removed.name, ("account removed" if removed.sso_subject in (None, subject)
                          else "account removed; a new identity asked for its user name")


def _removed_account(conn: Connection, login: LibrarianLogin | None,
                     name: str) -> LibrarianLogin | None:
    """The removed account a sign-in asks for: the identity's own (``login``), or, for an
    identity without one, the account of its user name."""
    if login is None:
        login = librarians.login_of(conn, name)
    return login if login is not None and login.role == REMOVED else None


def _open_sso_account(conn: Connection, ctx: Context, login: LibrarianLogin | None,
                      name: str, role: str, address: str | None,
                      subject: str) -> tuple[str, int, str]:
    """Make or update the account of the identity ``subject``, whose account, if it has
    one, is ``login``: its name and role as the claims give them."""
    if login is None:
        login = _first_sso_sign_in(conn, ctx, name, role)
    elif login.name != name:
        _rename(conn, ctx, login.name, name)
    if login is not None and login.role != role:
        librarians.set_role(conn, name, role)
        librarians.record_event(conn, name, "role", f"{login.role} → {role}",
                                by="single sign-on", now=ctx.now())
    librarians.set_sso(conn, name, subject=subject, email=address)
    found = librarians.standing(conn, name)
    assert found is not None
    return name, found[0], role


def _first_sso_sign_in(conn: Connection, ctx: Context, name: str,
                       role: str) -> LibrarianLogin | None:
    """The account ``name`` that a new identity adopts; None when it was made now."""
    login = librarians.login_of(conn, name)
    if login is None:
        librarians.add_librarian(conn, name, NO_PASSWORD, now=ctx.now(), role=role, sso=True)
        librarians.record_event(conn, name, "added", f"as {role} by single sign-on",
                                by="single sign-on", now=ctx.now())
    elif login.sso_subject is not None:
        raise AwarenessError(f"an account called {name} belongs to someone else at the "
                             "identity provider, and an account is never handed on to another "
                             "person; ask your administrator")
    return login


def _rename(conn: Connection, ctx: Context, old: str, new: str) -> None:
    """The identity's user name changed at the provider: its account follows, history too."""
    if librarians.login_of(conn, new) is not None:
        raise AwarenessError(f"your user name changed from {old} to {new}, and another "
                             f"account is already called {new}; ask your administrator")
    librarians.rename(conn, old, new)
    librarians.record_event(conn, new, "renamed", f"{old} → {new}", by="single sign-on",
                            now=ctx.now())


def authenticate(ctx: Context, name: str, password: str) -> tuple[str, int] | None:
    """(name, session version) when the password is right, else None. A single sign-on
    account has no password: it is refused here like a wrong one."""
    with reading(ctx.engine) as conn:
        login = librarians.login_of(conn, name)
    try:
        _hasher.verify(login.password_hash if login and not login.sso else _dummy_hash(),
                       password)
    except (VerificationError, InvalidHashError):
        return None
    return (login.name, login.session_version) if login and not login.sso else None


def session_version(ctx: Context, name: str) -> int | None:
    """The librarian's session version, which a cookie must carry; None for an unknown name."""
    with reading(ctx.engine) as conn:
        return librarians.session_version(conn, name)


def standing(ctx: Context, name: str) -> tuple[int, str] | None:
    """The librarian's session version and role; None for an unknown name."""
    with reading(ctx.engine) as conn:
        return librarians.standing(conn, name)


def everyone(ctx: Context) -> list[LibrarianInfo]:
    """Every librarian account, by name."""
    with reading(ctx.engine) as conn:
        return librarians.everyone(conn, removed=REMOVED)


def administrators(ctx: Context) -> list[str]:
    """The names of the administrators, whom a librarian asks for a higher role."""
    return [found.name for found in everyone(ctx) if found.role == "administrator"]


def who_edits(ctx: Context) -> tuple[list[str], list[str]]:
    """The names of the librarians who may edit (editors and administrators), whom a
    reviewer asks to make a change, and of the administrators, who can give the role."""
    found = everyone(ctx)
    return ([f.name for f in found if allows(f.role, "editor")],
            [f.name for f in found if f.role == "administrator"])


def history(ctx: Context) -> list[LibrarianEvent]:
    """The latest changes to librarian accounts, newest first."""
    with reading(ctx.engine) as conn:
        return librarians.events(conn)


def _check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise AwarenessError("librarian names are 2-100 letters, digits, dots, dashes "
                             "(and @ ' + of an address)")


def _check_role(role: str) -> None:
    if not is_role(role):
        raise AwarenessError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")


def _checked_email(email: str) -> str:
    """The one address check every address a person gives goes through (addresses.py)."""
    address = email.strip()
    problem = address_problem(address)
    if problem:
        raise AwarenessError(f"{address!r} is not an e-mail address: {problem}")
    return address


def _address_or_none(email: str) -> str | None:
    address = email.strip()
    return address if is_email_address(address) else None


def end_sessions(ctx: Context, name: str) -> None:
    """Invalidate every session cookie of a librarian (logout everywhere)."""
    with writing(ctx.engine) as conn:
        librarians.end_sessions(conn, name)


def check_new_librarian(ctx: Context, name: str, email: str = "") -> None:
    """Refuse what adding ``name`` (with ``email``) would refuse, before anyone types a
    password: a name of the wrong form or taken, an address that is not one."""
    _check_name(name)
    if email:
        _checked_email(email)
    with reading(ctx.engine) as connection:
        login = librarians.login_of(connection, name)
    if login is not None and login.role != REMOVED:
        raise AwarenessError(f"librarian {name!r} already exists")


def set_email(ctx: Context, name: str, email: str) -> None:
    """Set the librarian's address (bulletin reminders and test sends go there)."""
    address = _checked_email(email)
    with writing(ctx.engine) as connection:
        if not librarians.set_email(connection, name, address):
            raise AwarenessError(f"no librarian {name!r}; add them with "
                                 f"`awareness librarians add {name}`")


def email_of(ctx: Context, name: str) -> str:
    """The librarian's address, or "" when they have none."""
    with reading(ctx.engine) as connection:
        return librarians.emails(connection, [name]).get(name, "")
