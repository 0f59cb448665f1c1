"""Alembic environment: runs migrations on the engine the service hands over."""

from alembic import context

from awareness.storage.models import Base, in_schema

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch operation copies a table, drops the old one and renames the copy. With
        # foreign keys enforced, that drop deletes every row first, and ON DELETE CASCADE
        # would take the rows of other tables with it (matches with their items). SQLite
        # ignores this pragma inside a transaction, so it is set on the driver's connection
        # before ours begins, checked before commit, and set back before the connection goes
        # back to the pool (https://www.sqlite.org/lang_altertable.html, "other changes").
        connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
    try:
        with connection.begin():
            context.configure(connection=connection, target_metadata=Base.metadata,
                              render_as_batch=sqlite,
                              include_object=in_schema(connection.dialect.name))
            if connection.dialect.name == "postgresql":
                # Processes starting together (issue 15) upgrade one after another: the second
                # waits here, then finds the schema at head. Per schema, as several may share
                # a database.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext("
                                           "'awareness-migrations:' || current_schema()))")
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"a migration left rows pointing nowhere: {broken[:5]}")
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")
