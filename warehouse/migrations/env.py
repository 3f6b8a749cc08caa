"""Alembic environment for the warehouse (DuckDB or PostgreSQL).

Run through `reformstats db upgrade` (warehouse.migrate), which hands over an open
connection. Migrations use explicit DDL only (no reflection, no batch mode): SQLAlchemy's
reflection does not work on DuckDB. On PostgreSQL an advisory lock makes concurrent
upgrades (two DAGs' first tasks at once) wait for each other instead of racing.
"""

from __future__ import annotations

from alembic import context

from warehouse.migrate import ADVISORY_LOCK_ID
from warehouse.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, transaction_per_migration=False)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})")
    context.run_migrations()
