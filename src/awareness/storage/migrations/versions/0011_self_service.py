"""Staff serve themselves: confirmed and paused subscribers, a frequency per topic, pending
sign-ups, rate-limit events, and a note for readers on each match (issue 12).

Subscribers added before this migration were added by a librarian: they count as confirmed
when they were added. Each subscription takes its subscriber's frequency.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


# Columns are added and dropped in place (SQLite has both since 3.35), not by copying the
# table as a batch would: other tables' foreign keys point at these, and SQLite refuses to
# drop a table that rows elsewhere refer to.


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("confirmed_at", WHEN, nullable=True))
    op.add_column("subscribers", sa.Column("paused_until", WHEN, nullable=True))
    op.add_column("subscribers", sa.Column("bulletins", sa.Boolean(), nullable=False,
                                           server_default=sa.false()))
    op.execute("UPDATE subscribers SET confirmed_at = created_at")
    op.add_column("subscriptions", sa.Column("frequency", sa.String(10), nullable=False,
                                             server_default="weekly"))
    op.execute("UPDATE subscriptions SET frequency = (SELECT frequency FROM subscribers "
               "WHERE subscribers.id = subscriptions.subscriber_id)")
    op.add_column("matches", sa.Column("reader_note", sa.Text(), nullable=False,
                                       server_default=""))
    op.create_table(
        "signups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, index=True),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("bulletins", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False, index=True),
    )
    op.create_table(
        "rate_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("bucket", sa.String(200), nullable=False),
        sa.Column("at", WHEN, nullable=False),
    )
    op.create_index("ix_rate_events_bucket_at", "rate_events", ["bucket", "at"])


def downgrade() -> None:
    op.drop_index("ix_rate_events_bucket_at", table_name="rate_events")
    op.drop_table("rate_events")
    op.drop_table("signups")
    op.drop_column("matches", "reader_note")
    op.drop_column("subscriptions", "frequency")
    for column in ("bulletins", "paused_until", "confirmed_at"):
        op.drop_column("subscribers", column)
