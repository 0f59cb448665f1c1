"""Pending sign-ups and the uses of the public forms (storage: all their SQL; issue 12).

A sign-up waits here, holding nothing active, until its confirmation link is followed or it
expires. Rate-limit events are one row per use of a limited form, by bucket (a keyed hash of
the address or the client, never the address itself), deleted once older than any limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select

from awareness.signup import Choice, PendingSignup
from awareness.storage.models import RateEvent, Signup

_PENDING = select(Signup.id, Signup.email, Signup.topics, Signup.bulletins, Signup.created_at,
                  Signup.expires_at)


def add(connection: Connection, *, email: str, choices: Sequence[Choice], bulletins: bool,
        now: datetime, expires_at: datetime) -> PendingSignup:
    """Store a sign-up waiting for confirmation; its id is in the confirmation link."""
    topics = [{"topic": c.topic, "frequency": c.frequency} for c in choices]
    signup_id = connection.execute(insert(Signup).values(
        email=email, topics=topics, bulletins=bulletins, created_at=now,
        expires_at=expires_at).returning(Signup.id)).scalar_one()
    return PendingSignup(signup_id, email, tuple(choices), bulletins, now, expires_at)


def get(connection: Connection, signup_id: int) -> PendingSignup | None:
    """The pending sign-up, or None (confirmed, expired and deleted, or never made)."""
    row = connection.execute(_PENDING.where(Signup.id == signup_id)).first()
    return None if row is None else _pending(row)


def waiting(connection: Connection, now: datetime, text: str = "") -> list[PendingSignup]:
    """The sign-ups not yet expired at ``now`` whose address contains ``text``, by address."""
    rows = connection.execute(_PENDING.where(
        Signup.expires_at > now, Signup.email.contains(text.lower(), autoescape=True))
        .order_by(Signup.email, Signup.id))
    return [_pending(row) for row in rows]


def of_address(connection: Connection, email: str) -> list[PendingSignup]:
    """Every sign-up stored for ``email`` (expired ones too, until ``purge``), oldest first:
    what their export gives."""
    rows = connection.execute(_PENDING.where(Signup.email == email.strip().lower())
                              .order_by(Signup.id))
    return [_pending(row) for row in rows]


def erase_for(connection: Connection, email: str) -> None:
    """Delete every sign-up stored for ``email`` (their erasure)."""
    connection.execute(delete(Signup).where(Signup.email == email.strip().lower()))


def remove(connection: Connection, signup_id: int) -> bool:
    """Delete the sign-up; False when another request already had (so it acts once)."""
    return connection.execute(delete(Signup).where(Signup.id == signup_id)).rowcount == 1


def _pending(row: Row[Any]) -> PendingSignup:
    choices = tuple(Choice(str(t["topic"]), str(t["frequency"])) for t in row.topics)
    return PendingSignup(row.id, row.email, choices, row.bulletins, row.created_at,
                         row.expires_at)


def purge(connection: Connection, now: datetime) -> int:
    """Delete the sign-ups that expired unconfirmed; how many."""
    return connection.execute(delete(Signup).where(Signup.expires_at <= now)).rowcount


def uses(connection: Connection, bucket: str, since: datetime) -> int:
    """How often a limited form was used for ``bucket`` since ``since``."""
    return connection.execute(select(func.count()).select_from(RateEvent).where(
        RateEvent.bucket == bucket, RateEvent.at > since)).scalar_one()


def record_use(connection: Connection, buckets: Iterable[str], now: datetime) -> None:
    """One more use for each of ``buckets``."""
    connection.execute(insert(RateEvent), [{"bucket": b, "at": now} for b in buckets])


def forget_uses(connection: Connection, before: datetime) -> int:
    """Delete uses older than ``before``; how many."""
    return connection.execute(delete(RateEvent).where(RateEvent.at < before)).rowcount
