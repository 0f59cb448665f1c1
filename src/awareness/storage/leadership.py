"""The scheduler's leader lock on PostgreSQL: a session-level advisory lock (issue 15).

The lock belongs to one database session, held on a connection of its own that does nothing
else: PostgreSQL releases it the moment that session ends, whether the process exited, was
killed, or an operator ended the session (``pg_terminate_backend``). The key is derived from
the schema, so services in different schemas of one database each have their own leader.

The session is told to end itself after ``IDLE_SESSION_TIMEOUT`` without a query
(PostgreSQL 14 and later): a leader checks its lock every few seconds, so only a leader whose
machine vanished, or whose network did, goes quiet that long, and its lock is then freed
without waiting for TCP to notice (hours, with the server's default keepalives). The client
side gives up on an unanswered check after ``TCP_USER_TIMEOUT_MS``, well before that, so the
old leader has stopped scheduling before the lock it held can pass to another process.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

IDLE_SESSION_TIMEOUT = "15s"
TCP_USER_TIMEOUT_MS = 5000
_KEY = "hashtext('awareness-scheduler:' || current_schema())"
_TRY = text(f"SELECT pg_try_advisory_lock({_KEY})")
_HELD = text(f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
             f"AND pid = pg_backend_pid() AND objid::bigint = ({_KEY})::bigint & 4294967295")
_UNLOCK = text(f"SELECT pg_advisory_unlock({_KEY})")
LockLost = (SQLAlchemyError, OSError)


def is_postgresql(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (else SQLite: the file lock applies)."""
    return url.startswith("postgresql")


def open_session(url: str) -> Connection:
    """A connection of its own for the lock, outside every pool, in autocommit (it must never
    sit idle in a transaction), whose TCP gives up on a silent server within seconds."""
    engine = create_engine(url, poolclass=NullPool, connect_args={
        "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
        "keepalives_count": 2, "tcp_user_timeout": TCP_USER_TIMEOUT_MS, "connect_timeout": 5})
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        connection.execute(text(f"SET idle_session_timeout = '{IDLE_SESSION_TIMEOUT}'"))
    except DBAPIError:  # PostgreSQL before 14: TCP keepalives alone free a vanished lock
        log.warning("this PostgreSQL has no idle_session_timeout; a leader whose machine "
                    "vanishes keeps the lock until the server's TCP keepalives notice")
    return connection


def try_lead(connection: Connection) -> bool:
    """Take the leader lock if no other session holds it; never waits."""
    return bool(connection.execute(_TRY).scalar())


def holds_lead(connection: Connection) -> bool:
    """Whether this session still holds the leader lock (raises when the session is gone)."""
    return bool(connection.execute(_HELD).scalar())


def give_up(connection: Connection) -> None:
    """Release the lock if this session still can, and close the session either way."""
    try:
        connection.execute(_UNLOCK)
    except LockLost:
        pass
    finally:
        close(connection)


def close(connection: Connection) -> None:
    """Close the session and its engine, whatever state the connection is in."""
    engine = connection.engine
    try:
        connection.invalidate()
        connection.close()
    except LockLost:
        pass
    engine.dispose()
