"""Librarians' tokens for the JSON API (issue 14, item 7; docs/api.md).

A token is ``aw_`` and 43 characters of 32 random bytes (URL-safe base64): the prefix lets
secret scanners and people recognise one. Only its SHA-256 is stored. A slow password hash
is not needed: the token is random and 256 bits long, so nobody can guess it from its hash.

Checking a token reads only. When it was last used is written at most once every
``USE_GRANULARITY``, so API reads do not each take the write lock; that time is the one
thing a GET through the API may change.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from awareness.errors import AwarenessError, NotFound
from awareness.model import ApiTokenInfo
from awareness.roles import REMOVED
from awareness.service.context import Context
from awareness.storage import api_tokens, librarians
from awareness.storage.db import reading, writing

PREFIX = "aw_"
SHAPE = re.compile(r"aw_[A-Za-z0-9_-]{43}")
USE_GRANULARITY = timedelta(minutes=5)
MAX_LABEL = 100


def hash_of(token: str) -> str:
    """The SHA-256 the store keeps for ``token`` (hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create(ctx: Context, librarian: str, label: str = "") -> tuple[str, ApiTokenInfo]:
    """A new token for ``librarian``: the token itself (shown once, never stored) and its
    listing."""
    label = " ".join(label.split())
    if len(label) > MAX_LABEL:
        raise AwarenessError(f"the label is {len(label)} characters; use {MAX_LABEL} or fewer")
    token = PREFIX + secrets.token_urlsafe(32)
    with writing(ctx.engine) as conn:
        standing = librarians.standing(conn, librarian)
        if standing is None or standing[1] == REMOVED or api_tokens.add(
                conn, librarian, hash_of(token), label, now=ctx.now()) is None:
            raise AwarenessError(f"no librarian {librarian!r}; add them with "
                                 f"`awareness librarians add {librarian}`")
        info = api_tokens.by_hash(conn, hash_of(token))
    assert info is not None
    return token, info


def tokens_of(ctx: Context, librarian: str) -> list[ApiTokenInfo]:
    """Every token of ``librarian``, revoked ones too, oldest first."""
    with reading(ctx.engine) as conn:
        if librarians.session_version(conn, librarian) is None:
            raise NotFound(f"no librarian {librarian!r}")
        return api_tokens.of_librarian(conn, librarian)


def revoke(ctx: Context, token_id: int) -> ApiTokenInfo:
    """Revoke a token at once; its next request is refused."""
    with writing(ctx.engine) as conn:
        info = api_tokens.revoke(conn, token_id, now=ctx.now())
    if info is None:
        raise NotFound(f"no API token {token_id}; `awareness librarians tokens NAME` lists them")
    return info


def librarian_for(ctx: Context, token: str) -> tuple[str, str] | None:
    """The librarian a presented token belongs to and their role (read at each request, so
    a role change applies to their tokens at once); None for a malformed, unknown or
    revoked token alike (the caller answers each the same way)."""
    if not SHAPE.fullmatch(token):
        return None
    with reading(ctx.engine) as conn:
        info = api_tokens.by_hash(conn, hash_of(token))
    if info is None or info.is_revoked:
        return None
    now = ctx.now()
    if info.last_used_at is None or now - info.last_used_at >= USE_GRANULARITY:
        with writing(ctx.engine) as conn:
            api_tokens.mark_used(conn, info.id, now=now)
    return info.librarian, info.role
