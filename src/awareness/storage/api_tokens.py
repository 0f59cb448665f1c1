"""Librarians' API tokens (shell: SQL only). Tokens arrive here already hashed: the table
never holds a token a copy of the database could use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from awareness.model import ApiTokenInfo
from awareness.storage.models import ApiToken, Librarian

_INFO = (select(ApiToken.id, Librarian.name, ApiToken.label, ApiToken.created_at,
                ApiToken.last_used_at, ApiToken.revoked_at, Librarian.role)
         .join(Librarian, Librarian.id == ApiToken.librarian_id))


def _info(row: Any) -> ApiTokenInfo:
    return ApiTokenInfo(row.id, row.name, row.label, row.created_at, row.last_used_at,
                        row.revoked_at, row.role)


def add(conn: Connection, librarian: str, token_hash: str, label: str, *,
        now: datetime) -> int | None:
    """Store a token's hash for ``librarian``; its id, or None when there is no such
    librarian."""
    librarian_id = conn.scalar(select(Librarian.id).where(Librarian.name == librarian))
    if librarian_id is None:
        return None
    return conn.execute(insert(ApiToken).values(
        librarian_id=librarian_id, token_hash=token_hash, label=label, created_at=now)
        .returning(ApiToken.id)).scalar_one()


def by_hash(conn: Connection, token_hash: str) -> ApiTokenInfo | None:
    """The token with this hash, revoked or not."""
    row = conn.execute(_INFO.where(ApiToken.token_hash == token_hash)).one_or_none()
    return _info(row) if row else None


def of_librarian(conn: Connection, librarian: str) -> list[ApiTokenInfo]:
    """Every token of ``librarian``, oldest first."""
    return [_info(row) for row in
            conn.execute(_INFO.where(Librarian.name == librarian).order_by(ApiToken.id))]


def revoke(conn: Connection, token_id: int, *, now: datetime) -> ApiTokenInfo | None:
    """Revoke the token (kept, so the list shows it); None when there is no such token.
    Revoking twice keeps the first time."""
    conn.execute(update(ApiToken).where(ApiToken.id == token_id,
                                        ApiToken.revoked_at.is_(None)).values(revoked_at=now))
    row = conn.execute(_INFO.where(ApiToken.id == token_id)).one_or_none()
    return _info(row) if row else None


def revoke_all(conn: Connection, librarian: str, *, now: datetime) -> int:
    """Revoke every token of ``librarian`` not revoked yet; how many that was."""
    owner = select(Librarian.id).where(Librarian.name == librarian).scalar_subquery()
    done = conn.execute(update(ApiToken).where(ApiToken.librarian_id == owner,
                                               ApiToken.revoked_at.is_(None))
                        .values(revoked_at=now))
    return done.rowcount or 0


def mark_used(conn: Connection, token_id: int, *, now: datetime) -> None:
    """Record when the token was last used."""
    conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
