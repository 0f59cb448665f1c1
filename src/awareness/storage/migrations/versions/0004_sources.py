"""Sources: permanent-redirect tracking, item stories and DOIs, tombstones for deleted items,
and the log of daily "broken or stale sources" e-mails.

Revision ID: 0004_sources
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_sources"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("fetch_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("redirect_target", sa.Text(), nullable=True))
        batch.add_column(sa.Column("redirect_count", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("duplicate_of", sa.String(length=64), nullable=True))
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("doi", sa.String(length=300), nullable=True))
        batch.create_index(batch.f("ix_items_story_id"), ["story_id"], unique=False)
        batch.create_index(batch.f("ix_items_doi"), ["doi"], unique=False)
    op.create_table(
        "item_tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=1100), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "key", name="uq_item_tombstones_source_key"),
    )
    op.create_table(
        "source_health_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", name="uq_source_health_mails_day"),
    )


def downgrade() -> None:
    op.drop_table("source_health_mails")
    op.drop_table("item_tombstones")
    with op.batch_alter_table("items") as batch:
        batch.drop_index(batch.f("ix_items_doi"))
        batch.drop_index(batch.f("ix_items_story_id"))
        batch.drop_column("doi")
        batch.drop_column("story_id")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("duplicate_of")
        batch.drop_column("redirect_count")
        batch.drop_column("redirect_target")
        batch.drop_column("fetch_url")
