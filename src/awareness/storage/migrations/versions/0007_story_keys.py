"""Items: indexed digests of the normalised link and title key, for finding stories.

Story assignment used to read the 5,000 most recent items of other sources and compare them
in Python; with these columns (and an index on ``first_seen_at``) it asks for the candidates
instead. Existing rows are filled in here, in batches, by the same Python code that fills new
ones (normalisation is not SQL), so this runs alike on SQLite and PostgreSQL.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from awareness.sources.identity import link_digest, title_digest

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 1_000


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("link_key", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("title_key", sa.String(length=32), nullable=True))
    backfill(op.get_bind())
    # After the backfill: one index build is cheaper than maintaining it row by row.
    with op.batch_alter_table("items") as batch:
        batch.create_index(batch.f("ix_items_link_key"), ["link_key"], unique=False)
        batch.create_index(batch.f("ix_items_title_key"), ["title_key"], unique=False)
        batch.create_index(batch.f("ix_items_first_seen_at"), ["first_seen_at"], unique=False)


def backfill(connection: sa.Connection) -> None:
    """Compute both digests for every stored item, ``BATCH`` rows at a time in id order."""
    items = sa.table("items", sa.column("id", sa.Integer), sa.column("link", sa.Text),
                     sa.column("title", sa.Text), sa.column("link_key", sa.String),
                     sa.column("title_key", sa.String))
    write = (sa.update(items).where(items.c.id == sa.bindparam("item_id"))
             .values(link_key=sa.bindparam("new_link_key"),
                     title_key=sa.bindparam("new_title_key")))
    last = 0
    while True:
        rows = connection.execute(sa.select(items.c.id, items.c.link, items.c.title)
                                  .where(items.c.id > last).order_by(items.c.id)
                                  .limit(BATCH)).all()
        if not rows:
            return
        connection.execute(write, [
            {"item_id": row.id, "new_link_key": link_digest(row.link),
             "new_title_key": title_digest(row.title)} for row in rows])
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_index(batch.f("ix_items_first_seen_at"))
        batch.drop_index(batch.f("ix_items_title_key"))
        batch.drop_index(batch.f("ix_items_link_key"))
        batch.drop_column("title_key")
        batch.drop_column("link_key")
