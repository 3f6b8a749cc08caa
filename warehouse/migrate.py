"""Warehouse schema migrations (Alembic): `reformstats db upgrade` creates and upgrades
tables and views; loads only check that the schema is current and never run DDL.

- An empty database is brought to the latest revision.
- A warehouse made before migrations existed (tables created by the loader itself, no
  `alembic_version`) is recognised, stamped at the first revision, which describes
  exactly that schema, and upgraded from there: no data is lost, nothing to delete.
- On PostgreSQL concurrent upgrades serialise on an advisory lock (see migrations/env.py).
- At the latest revision every upgrade then writes the descriptions of
  warehouse/dictionary.yaml as the comments of tables, views and columns (those that
  differ, in the same transaction; see warehouse/dictionary.py): a migration that
  recreates a view drops its comments on PostgreSQL, and the next upgrade puts them back.
  An entry naming what the warehouse does not have fails the upgrade, naming it.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the schema as the loader created it before migrations existed
ADVISORY_LOCK_ID = 7662019
UPGRADE_COMMAND = "reformstats db upgrade"

log = logging.getLogger(__name__)


class DuckDBImpl(DefaultImpl):
    """Lets Alembic run on DuckDB (duckdb_engine's dialect name); DDL is transactional."""

    __dialect__ = "duckdb"
    transactional_ddl = True


class SchemaNotCurrentError(RuntimeError):
    """The warehouse schema is missing or older than this code expects."""


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    """The latest revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return head


def _has_table(conn: sa.Connection, name: str) -> bool:
    # Not Inspector.has_table: reflection queries do not all work on DuckDB.
    rows = conn.execute(sa.text("SELECT table_name FROM information_schema.tables "
                                "WHERE table_name = :name AND table_schema = current_schema()"),
                        {"name": name}).fetchall()
    return bool(rows)


def current(conn: sa.Connection) -> str | None:
    """The warehouse's revision, or None when it has none (empty or pre-migration)."""
    if not _has_table(conn, "alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


PRE_MIGRATION = "pre-migration schema"


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str]:
    """Bring the warehouse at `url` to `revision`; returns (revision before, after). Before
    is None for an empty database and PRE_MIGRATION for one from before migrations."""
    from warehouse.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":  # held until this connection closes
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({ADVISORY_LOCK_ID})")
                conn.commit()
            before = current(conn)
            if before is None and _has_table(conn, "fact_portal_score"):
                log.info("warehouse predates migrations: stamping it at %s", BASELINE)
                command.stamp(_config(conn), BASELINE)
                before = PRE_MIGRATION
            command.upgrade(_config(conn), revision)
            if current(conn) == head():
                _describe(conn)
            if conn.in_transaction():
                conn.commit()
            after = current(conn)
    finally:
        engine.dispose()
    if before != after:
        log.info("warehouse upgraded from %s to %s", before or "nothing", after)
    return before, after or ""


def _describe(conn: sa.Connection) -> None:
    from warehouse.dictionary import apply_comments

    changed = apply_comments(conn)
    if changed:
        log.info("warehouse comments: %d written from the data dictionary", changed)


def upgrade_hint(url: str) -> str:
    from warehouse.engine import display_url

    return (f"run `{UPGRADE_COMMAND} --url '{display_url(url)}'` (it creates or upgrades "
            "tables and views; loads never change the schema)")


def require_current(conn: sa.Connection, url: str) -> None:
    """Raise SchemaNotCurrentError unless the warehouse is at this code's revision."""
    from warehouse.engine import display_url

    found = current(conn)
    if found != head():
        state = "has no schema version" if found is None else f"is at revision {found}"
        raise SchemaNotCurrentError(f"the warehouse {display_url(url)} {state}, this code "
                                    f"needs {head()}: {upgrade_hint(url)}")
