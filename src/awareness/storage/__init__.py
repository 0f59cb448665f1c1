"""Storage: the SQLAlchemy schema, Alembic migrations and the engine (shell)."""
