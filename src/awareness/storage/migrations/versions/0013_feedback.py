"""Reader feedback: "Useful" / "Not useful" on items and "Tell us more" on messages
(issue 17), one row per reader and thing answered; and counted clicks (when a library turns
them on), one row per reader and item.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id"),
                  nullable=False),
        sa.Column("target", sa.String(250), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("topic_slug", sa.String(100), nullable=True),
        sa.Column("answer", sa.String(20), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.UniqueConstraint("subscriber_id", "target", name="uq_feedback_subscriber_target"),
    )
    op.create_index("ix_feedback_item_id", "feedback", ["item_id"])
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
    op.create_table(
        "clicks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id"),
                  nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("clicked_at", WHEN, nullable=False),
        sa.UniqueConstraint("subscriber_id", "item_id", name="uq_clicks_subscriber_item"),
    )
    op.create_index("ix_clicks_item_id", "clicks", ["item_id"])
    op.create_index("ix_clicks_clicked_at", "clicks", ["clicked_at"])


def downgrade() -> None:
    op.drop_index("ix_clicks_clicked_at", table_name="clicks")
    op.drop_index("ix_clicks_item_id", table_name="clicks")
    op.drop_table("clicks")
    op.drop_index("ix_feedback_created_at", table_name="feedback")
    op.drop_index("ix_feedback_item_id", table_name="feedback")
    op.drop_table("feedback")
