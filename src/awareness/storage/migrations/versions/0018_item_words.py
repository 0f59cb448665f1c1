"""Items keep their normalised words, so trying a query does not re-read the archive.

``items`` gains the words of each field (``title_words``, ``summary_words``,
``category_words``: topics.text.ItemWords) and ``item_words`` holds each distinct (word,
item, field), so a dry run (``/topics/try``, ``topics try``) reads only the items that hold
one of the query's required words and builds their documents without normalising their text
again (issue 11, docs/performance.md). A partial index finds the items whose words are not
stored. Existing items are filled in batches of 500, each batch one statement per table.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from awareness.model import ItemText
from awareness.topics.text import ItemWords, document

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BATCH = 500
WORD = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
FIELD_CODES = {"title": "t", "summary": "s", "category": "c"}


def upgrade() -> None:
    for name in ("title_words", "summary_words", "category_words"):
        op.add_column("items", sa.Column(name, sa.Text(), nullable=True))
    op.create_table(
        "item_words",
        sa.Column("word", WORD, nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("field", sa.String(length=1), nullable=False),
        sa.PrimaryKeyConstraint("word", "item_id", "field"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_item_words_item_id", "item_words", ["item_id"])
    unindexed = sa.text("title_words IS NULL")
    op.create_index("ix_items_unindexed", "items", ["id"], sqlite_where=unindexed,
                    postgresql_where=unindexed)
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    items = sa.table("items", sa.column("id", sa.Integer), sa.column("title", sa.Text),
                     sa.column("summary_text", sa.Text), sa.column("categories", sa.JSON),
                     sa.column("title_words", sa.Text), sa.column("summary_words", sa.Text),
                     sa.column("category_words", sa.Text))
    item_words = sa.table("item_words", sa.column("word", sa.Text),
                          sa.column("item_id", sa.Integer), sa.column("field", sa.String))
    update = (sa.update(items).where(items.c.id == sa.bindparam("item_id"))
              .values(title_words=sa.bindparam("t"), summary_words=sa.bindparam("s"),
                      category_words=sa.bindparam("c")))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(items.c.id, items.c.title, items.c.summary_text, items.c.categories)
            .where(items.c.id > last).order_by(items.c.id).limit(BATCH)).all()
        if not rows:
            return
        columns: list[dict[str, object]] = []
        pairs: list[dict[str, object]] = []
        for row in rows:
            stored = ItemWords.of(document(ItemText(
                title=row.title, summary=row.summary_text or "",
                categories=tuple(row.categories or ()), source="")))
            title, summary, categories = stored.columns()
            columns.append({"item_id": row.id, "t": title, "s": summary, "c": categories})
            pairs.extend({"word": word, "item_id": row.id, "field": FIELD_CODES[field]}
                         for field, word in stored.field_words())
        conn.execute(update, columns)
        if pairs:
            conn.execute(sa.insert(item_words), pairs)
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_items_unindexed", table_name="items")
    op.drop_index("ix_item_words_item_id", table_name="item_words")
    op.drop_table("item_words")
    with op.batch_alter_table("items") as batch:
        for name in ("category_words", "summary_words", "title_words"):
            batch.drop_column(name)
