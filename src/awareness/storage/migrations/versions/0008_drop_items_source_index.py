"""Items: drop the index on ``source_id`` alone.

The unique index on ``(source_id, key)`` begins with ``source_id``, so it serves every lookup
by source as well; the second index only made each stored item cost one more index write
(docs/performance.md).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_index(batch.f("ix_items_source_id"))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.create_index(batch.f("ix_items_source_id"), ["source_id"], unique=False)
