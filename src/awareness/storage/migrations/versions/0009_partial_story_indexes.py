"""Items: story indexes without NULLs; no index on ``story_id``.

Story lookups ask ``items`` for equal DOIs, link digests and title digests, never for NULL,
and most rows hold NULL there: every baseline item, and most items have no DOI. Partial
indexes (``WHERE … IS NOT NULL``) leave those rows out, so storing them writes nothing to
these indexes. Nothing looks items up by ``story_id``, so its index goes
(docs/performance.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PARTIAL = ("doi", "link_key", "title_key")


def upgrade() -> None:
    op.drop_index("ix_items_story_id", table_name="items")
    for name in PARTIAL:
        op.drop_index(f"ix_items_{name}", table_name="items")
        where = sa.text(f"{name} IS NOT NULL")
        op.create_index(f"ix_items_{name}", "items", [name], unique=False,
                        sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name in PARTIAL:
        op.drop_index(f"ix_items_{name}", table_name="items")
        op.create_index(f"ix_items_{name}", "items", [name], unique=False)
    op.create_index("ix_items_story_id", "items", ["story_id"], unique=False)
