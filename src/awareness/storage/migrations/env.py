"""Alembic environment: runs migrations on the engine the service hands over."""

from alembic import context

from awareness.storage.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    if connection.dialect.name == "postgresql":
        # Processes starting together (issue 15) upgrade one after another: the second waits
        # here, then finds the schema at head. Per schema, as several may share a database.
        connection.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(hashtext('awareness-migrations:' || current_schema()))")
    context.run_migrations()
