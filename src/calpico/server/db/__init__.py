"""Storage: SQLAlchemy Core tables, the async engine, repositories, Alembic migrations."""
