"""On SQLite, items are found by their words through a full-text index, not a table of rows.

``item_words`` (0018) held a row per (word, item, field): about 60 rows an item, each put in
its place in two B-trees, so storing a poll's items dirtied thousands of pages and writing the
words cost more than the rest of storing them (issue 11, docs/performance.md). On SQLite the
words are now an FTS5 index over the ``items`` columns that hold them (external content, no
positions, no sizes: which items hold a word is all it answers), kept by triggers on
``items``, which write a transaction's words as one sorted segment. PostgreSQL keeps
``item_words``; this migration changes nothing there.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from awareness.errors import ConfigError

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

COLUMNS = "title_words, summary_words, category_words"
OLD = "old.title_words, old.summary_words, old.category_words"
NEW = "new.title_words, new.summary_words, new.category_words"
# Rows without stored words (title_words NULL) stay out of the index: they are found by the
# partial index ix_items_unindexed and read as text.
CREATE = [
    "CREATE VIRTUAL TABLE item_word_index USING fts5("
    f"{COLUMNS}, content='items', content_rowid='id', columnsize=0, detail=none, "
    "tokenize='ascii')",
    "CREATE TRIGGER items_words_insert AFTER INSERT ON items "
    "WHEN new.title_words IS NOT NULL BEGIN "
    f"INSERT INTO item_word_index(rowid, {COLUMNS}) VALUES (new.id, {NEW}); END",
    "CREATE TRIGGER items_words_delete AFTER DELETE ON items "
    "WHEN old.title_words IS NOT NULL BEGIN "
    f"INSERT INTO item_word_index(item_word_index, rowid, {COLUMNS}) "
    f"VALUES ('delete', old.id, {OLD}); END",
    # One trigger, so the old words leave before the new arrive (an FTS5 'delete' of words
    # the row holds again would take the new entries with it).
    f"CREATE TRIGGER items_words_update AFTER UPDATE OF {COLUMNS} ON items "
    "WHEN old.title_words IS NOT NULL OR new.title_words IS NOT NULL BEGIN "
    f"INSERT INTO item_word_index(item_word_index, rowid, {COLUMNS}) "
    f"SELECT 'delete', old.id, {OLD} WHERE old.title_words IS NOT NULL; "
    f"INSERT INTO item_word_index(rowid, {COLUMNS}) "
    f"SELECT new.id, {NEW} WHERE new.title_words IS NOT NULL; END",
    f"INSERT INTO item_word_index(rowid, {COLUMNS}) "
    f"SELECT id, {COLUMNS} FROM items WHERE title_words IS NOT NULL",
]
FIELDS = (("title_words", "t"), ("summary_words", "s"), ("category_words", "c"))
BATCH = 500


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    try:
        conn.exec_driver_sql("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x)")
        conn.exec_driver_sql("DROP TABLE temp.fts5_probe")
    except sa.exc.OperationalError as error:
        raise ConfigError(
            "this Python's SQLite has no FTS5, which the word index needs (migration 0019): "
            "run awareness with a Python whose sqlite3 module has it (python.org's and "
            "Debian's do), or use PostgreSQL") from error
    op.drop_index("ix_item_words_item_id", table_name="item_words")
    op.drop_table("item_words")
    for statement in CREATE:
        op.execute(statement)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    for trigger in ("items_words_update", "items_words_delete", "items_words_insert"):
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute("DROP TABLE item_word_index")
    op.create_table(
        "item_words",
        sa.Column("word", sa.Text(), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("field", sa.String(length=1), nullable=False),
        sa.PrimaryKeyConstraint("word", "item_id", "field"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_item_words_item_id", "item_words", ["item_id"])
    items = sa.table("items", sa.column("id", sa.Integer),
                     *(sa.column(name, sa.Text) for name, _ in FIELDS))
    item_words = sa.table("item_words", sa.column("word", sa.Text),
                          sa.column("item_id", sa.Integer), sa.column("field", sa.String))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(items).where(items.c.id > last, items.c.title_words.is_not(None))
            .order_by(items.c.id).limit(BATCH)).all()
        if not rows:
            return
        pairs = {(word, row.id, code) for row in rows for name, code in FIELDS
                 for word in (getattr(row, name) or "").split()}
        if pairs:
            conn.execute(sa.insert(item_words), [
                {"word": word, "item_id": item_id, "field": code}
                for word, item_id, code in sorted(pairs)])
        last = rows[-1].id
