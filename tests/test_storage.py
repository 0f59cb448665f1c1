"""The schema: migrations create it on SQLite and PostgreSQL, and upgrading twice is a no-op."""

from __future__ import annotations

from sqlalchemy import inspect

from awareness.storage.db import current_revision, head_revisions, make_engine, upgrade
from awareness.storage.models import Base


def test_migrations_create_the_models_schema_and_are_idempotent(database_url):
    engine = make_engine(database_url)
    try:
        before, after = upgrade(engine)
        assert before is None
        assert after == ",".join(head_revisions())
        assert upgrade(engine) == (after, after)
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert current_revision(engine) == after
    finally:
        engine.dispose()


def test_models_and_migrations_agree(database_url):
    # Autogenerate compares the migrated database with the models: any difference means a
    # model changed without a migration.
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_migrations_have_one_head():
    # Branches written in parallel must be merged before they ship, so that `alembic
    # upgrade head` and every deployment agree on one schema.
    assert len(head_revisions()) == 1
