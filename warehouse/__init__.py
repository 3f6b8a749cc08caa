"""The warehouse: one SQLAlchemy Core schema for DuckDB (embedded) and PostgreSQL."""
