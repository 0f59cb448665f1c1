"""A subscriber's history: who changed what about them, and when (added by a librarian,
confirmed their sign-up, topics changed, paused, suspended, resumed, unsubscribed), so that a
librarian asked why someone stopped getting their digest can answer. ``by`` is a librarian's
name, "themselves" or "the service". The rows go with the subscriber (ON DELETE CASCADE):
erasing someone leaves nothing about them. The history starts empty: what happened before
this migration was never recorded.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriber_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("what", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_subscriber_events_subscriber_id", "subscriber_events",
                    ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_subscriber_events_subscriber_id", table_name="subscriber_events")
    op.drop_table("subscriber_events")
