"""One outbox for every message: ``outbox`` replaces ``deliveries``, ``stewardship_mails`` and
``source_health_mails``.

Digests keep their ids, so ``delivery_items`` (now pointing at ``outbox.id`` through
``outbox_id``) still names the digest that carried each item; their envelope is read from the
stored message's own From and To. The stewardship and source-report logs become sent rows with
no body, so that a member's week and the report's day are still not sent twice. Every promise
of the old tables holds in the new one's ``uq_outbox_kind_key`` (issue 11).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from email.parser import BytesHeaderParser
from email.utils import getaddresses

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BATCH = 500
WHEN = sa.DateTime(timezone=True)
OUTBOX = sa.table(
    "outbox", sa.column("id", sa.Integer), sa.column("kind", sa.String),
    sa.column("key", sa.String), sa.column("subscriber_id", sa.Integer),
    sa.column("sender", sa.String), sa.column("recipient", sa.String),
    sa.column("message_id", sa.String), sa.column("message", sa.LargeBinary),
    sa.column("status", sa.String), sa.column("attempts", sa.Integer),
    sa.column("next_attempt_at", WHEN), sa.column("last_error", sa.Text),
    sa.column("created_at", WHEN), sa.column("sent_at", WHEN))
DELIVERIES = sa.table(
    "deliveries", sa.column("id", sa.Integer), sa.column("subscriber_id", sa.Integer),
    sa.column("period_key", sa.String), sa.column("status", sa.String),
    sa.column("message_id", sa.String), sa.column("message", sa.LargeBinary),
    sa.column("created_at", WHEN), sa.column("sent_at", WHEN),
    sa.column("attempts", sa.Integer), sa.column("next_attempt_at", WHEN),
    sa.column("last_error", sa.Text))
SUBSCRIBERS = sa.table("subscribers", sa.column("id", sa.Integer), sa.column("email", sa.String))
STEWARDSHIP = sa.table("stewardship_mails", sa.column("member", sa.String),
                       sa.column("week", sa.String), sa.column("message_id", sa.String),
                       sa.column("sent_at", WHEN))
SOURCE_REPORTS = sa.table("source_health_mails", sa.column("day", sa.String),
                          sa.column("message_id", sa.String), sa.column("sent_at", WHEN))


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "key", name="uq_outbox_kind_key"),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.create_index(batch.f("ix_outbox_subscriber_id"), ["subscriber_id"], unique=False)
        batch.create_index(batch.f("ix_outbox_next_attempt_at"), ["next_attempt_at"],
                           unique=False)
    connection = op.get_bind()
    copy_digests(connection)
    copy_logs(connection)
    repoint_delivery_items(connection, "deliveries", "delivery_id", "outbox", "outbox_id")
    op.drop_table("deliveries")
    op.drop_table("stewardship_mails")
    op.drop_table("source_health_mails")


def copy_digests(connection: sa.Connection) -> None:
    """Every delivery as a digest row with the same id, ``BATCH`` rows at a time."""
    query = (sa.select(DELIVERIES, SUBSCRIBERS.c.email)
             .join(SUBSCRIBERS, SUBSCRIBERS.c.id == DELIVERIES.c.subscriber_id)
             .order_by(DELIVERIES.c.id))
    last = 0
    while rows := connection.execute(query.where(DELIVERIES.c.id > last).limit(BATCH)).all():
        connection.execute(sa.insert(OUTBOX), [digest_row(row) for row in rows])
        last = rows[-1].id
    if connection.dialect.name == "postgresql":  # the ids were given, so move the sequence on
        connection.execute(sa.text(
            "SELECT setval(pg_get_serial_sequence('outbox', 'id'), "
            "coalesce((SELECT max(id) FROM outbox), 0) + 1, false)"))


def digest_row(row: sa.Row) -> dict[str, object]:
    """An outbox row for one delivery: the envelope from its own From and To headers."""
    headers = BytesHeaderParser().parsebytes(row.message)
    sender = next((addr for _, addr in getaddresses([str(headers["From"] or "")]) if addr), "")
    recipient = next((addr for _, addr in getaddresses([str(headers["To"] or "")]) if addr),
                     row.email)
    unsent = row.status == "pending"
    return {"id": row.id, "kind": "digest", "key": f"{row.subscriber_id}/{row.period_key}",
            "subscriber_id": row.subscriber_id, "sender": sender, "recipient": recipient,
            "message_id": row.message_id, "message": row.message, "status": row.status,
            "attempts": row.attempts,
            "next_attempt_at": (row.next_attempt_at or row.created_at) if unsent else None,
            "last_error": row.last_error, "created_at": row.created_at,
            "sent_at": row.sent_at}


def copy_logs(connection: sa.Connection) -> None:
    """The stewardship and source-report logs as sent rows without a body."""
    history = {"sender": "", "recipient": "", "message": None, "status": "sent",
               "attempts": 1, "next_attempt_at": None, "last_error": None}
    rows = [{**history, "kind": "stewardship", "key": f"{r.member}/{r.week}",
             "message_id": r.message_id, "created_at": r.sent_at, "sent_at": r.sent_at}
            for r in connection.execute(sa.select(STEWARDSHIP))]
    rows += [{**history, "kind": "sources_report", "key": r.day, "message_id": r.message_id,
              "created_at": r.sent_at, "sent_at": r.sent_at}
             for r in connection.execute(sa.select(SOURCE_REPORTS))]
    if rows:
        connection.execute(sa.insert(OUTBOX), [{**row, "subscriber_id": None} for row in rows])


def repoint_delivery_items(connection: sa.Connection, old_table: str, old_column: str,
                           new_table: str, new_column: str) -> None:
    """``delivery_items.<old_column>`` → ``<new_column>``, referring to ``<new_table>.id``.

    SQLite cannot drop a constraint, so the table is rebuilt (batch mode), with a naming
    convention that names a foreign key 0001 left unnamed; PostgreSQL named it
    ``<table>_<column>_fkey``, the name the new one gets on both."""
    convention = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
    old_fk = next(fk["name"] or f"fk_delivery_items_{old_column}_{old_table}"
                  for fk in sa.inspect(connection).get_foreign_keys("delivery_items")
                  if fk["constrained_columns"] == [old_column])
    with op.batch_alter_table("delivery_items", naming_convention=convention,
                              recreate="auto") as batch:
        batch.drop_index(f"ix_delivery_items_{old_column}")
        batch.drop_constraint(old_fk, type_="foreignkey")
        batch.alter_column(old_column, new_column_name=new_column, existing_type=sa.Integer(),
                           existing_nullable=False)
    with op.batch_alter_table("delivery_items") as batch:
        batch.create_foreign_key(f"delivery_items_{new_column}_fkey", new_table,
                                 [new_column], ["id"])
        batch.create_index(f"ix_delivery_items_{new_column}", [new_column], unique=False)


def downgrade() -> None:
    """Back to the three tables; kinds those tables cannot hold (none yet) are dropped."""
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("period_key", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscriber_id", "period_key", name="uq_deliveries_subscriber_period"),
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.create_index(batch.f("ix_deliveries_status"), ["status"], unique=False)
        batch.create_index(batch.f("ix_deliveries_subscriber_id"), ["subscriber_id"],
                           unique=False)
    op.create_table(
        "stewardship_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=20), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("sent_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member", "week", name="uq_stewardship_mails_member_week"),
    )
    op.create_table(
        "source_health_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("sent_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", name="uq_source_health_mails_day"),
    )
    connection = op.get_bind()
    copy_back(connection)
    repoint_delivery_items(connection, "outbox", "outbox_id", "deliveries", "delivery_id")
    op.drop_table("outbox")


def copy_back(connection: sa.Connection) -> None:
    """Digests back into ``deliveries`` (same ids); the logs back from the sent rows."""
    digests = (sa.select(OUTBOX).where(OUTBOX.c.kind == "digest", OUTBOX.c.message.is_not(None))
               .order_by(OUTBOX.c.id))
    last = 0
    while rows := connection.execute(digests.where(OUTBOX.c.id > last).limit(BATCH)).all():
        connection.execute(sa.insert(DELIVERIES), [{
            "id": r.id, "subscriber_id": r.subscriber_id,
            "period_key": r.key.partition("/")[2],
            "status": "pending" if r.status == "sending" else r.status,
            "message_id": r.message_id, "message": r.message, "created_at": r.created_at,
            "sent_at": r.sent_at, "attempts": r.attempts, "next_attempt_at": r.next_attempt_at,
            "last_error": r.last_error} for r in rows])
        last = rows[-1].id
    sent = sa.select(OUTBOX.c.key, OUTBOX.c.message_id, OUTBOX.c.sent_at).where(
        OUTBOX.c.status == "sent")
    for row in connection.execute(sent.where(OUTBOX.c.kind == "stewardship")).all():
        member, _, week = row.key.partition("/")
        connection.execute(sa.insert(STEWARDSHIP).values(
            member=member, week=week, message_id=row.message_id, sent_at=row.sent_at))
    for row in connection.execute(sent.where(OUTBOX.c.kind == "sources_report")).all():
        connection.execute(sa.insert(SOURCE_REPORTS).values(
            day=row.key, message_id=row.message_id, sent_at=row.sent_at))
