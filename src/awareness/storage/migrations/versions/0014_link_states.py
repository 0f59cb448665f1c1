"""Librarians confirm, remove and add the driver links of a match (issue 14).

``state`` is suggested (made by the linker), confirmed, removed or added (by a librarian);
``changed_by`` and ``changed_at`` say who did it and when, for the match's history. A removed
row is kept, so that re-matching or drafting never suggests that link for the item again.
Rows from before are suggestions.

Also a partial index on ``items.story_id`` (rows that name another item's story; NULL rows
are left out, as in 0009, so storing most items writes nothing to it): the review page lists
a story's other items under its first match and decides them with it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


# Columns are added and dropped in place, as in 0011: other tables' foreign keys point at
# these tables, and SQLite refuses to drop a table that rows elsewhere refer to.


def upgrade() -> None:
    op.add_column("match_drivers", sa.Column("state", sa.String(20), nullable=False,
                                             server_default="suggested"))
    op.add_column("match_drivers", sa.Column("changed_by", sa.String(200), nullable=True))
    op.add_column("match_drivers", sa.Column("changed_at", sa.DateTime(timezone=True),
                                             nullable=True))
    where = sa.text("story_id IS NOT NULL")
    op.create_index("ix_items_story_id", "items", ["story_id"], unique=False,
                    sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index("ix_items_story_id", table_name="items")
    for column in ("changed_at", "changed_by", "state"):
        op.drop_column("match_drivers", column)
