"""Atomic, idempotent partition loads through each engine's bulk path.

`replace_partition` runs inside the caller's transaction: it bulk-copies an Arrow table
into a staging table, deletes the partition from the target, and inserts from staging.
The caller commits the fact rows, the quarantine rows, the data-quality results and the
audit row together, so an analyst never sees half a month and a rerun converges.

- DuckDB: the Arrow table is registered on the connection and inserted with one
  `INSERT ... SELECT` (zero-copy scan).
- PostgreSQL: `COPY ... FROM STDIN (FORMAT csv)` into a temporary staging table (Arrow
  writes the CSV in C), then `DELETE` + `INSERT ... SELECT` in the same transaction.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _where(partition: Mapping[str, Any], among: Mapping[str, Sequence[Any]] | None = None
           ) -> tuple[str, dict[str, Any]]:
    clauses = [f"{_quote(col)} = :p_{i}" for i, col in enumerate(partition)]
    params = {f"p_{i}": value for i, value in enumerate(partition.values())}
    for i, (col, values) in enumerate((among or {}).items()):
        names = [f"a_{i}_{j}" for j in range(len(values))]
        clauses.append(f"{_quote(col)} IN ({', '.join(':' + n for n in names)})"
                       if names else "FALSE")
        params.update(zip(names, values, strict=True))
    return " AND ".join(clauses) or "TRUE", params


def replace_partition(conn: sa.Connection, table: sa.Table, rows: pa.Table,
                      partition: Mapping[str, Any],
                      among: Mapping[str, Sequence[Any]] | None = None) -> int:
    """Replace the rows of `table` matching `partition` with `rows`; returns rows inserted.
    With `among` ({column: values}), only the partition's rows with one of those values
    are replaced (e.g. the units a report file holds), and every row must have one.

    Every row must belong to the partition (checked), and `rows` must carry the table's
    columns (extra columns are ignored; missing nullable ones become NULL).
    """
    for column, allowed in (among or {}).items():
        if rows.num_rows and column in rows.column_names:
            outside = set(rows.column(column).to_pylist()) - set(allowed)
            if outside:
                raise ValueError(f"{table.name}: rows outside {column} in {list(allowed)[:5]}"
                                 f": {sorted(map(str, outside))[:5]}")
    for column, value in partition.items():
        if rows.num_rows and column in rows.column_names:
            values = set(rows.column(column).to_pylist())
            if values != {value}:
                raise ValueError(f"{table.name}: rows outside partition {column}={value!r}: "
                                 f"{sorted(map(str, values - {value}))[:5]}")
    columns = [c.name for c in table.columns if c.name in rows.column_names]
    missing = [c.name for c in table.columns
               if c.name not in rows.column_names and not c.nullable]
    if missing:
        raise ValueError(f"{table.name}: rows lack required columns {missing}")
    rows = rows.select(columns)
    where, params = _where(partition, among)
    conn.execute(sa.text(f"DELETE FROM {_quote(table.name)} WHERE {where}"), params)
    return insert_rows(conn, table, rows)


def insert_rows(conn: sa.Connection, table: sa.Table, rows: pa.Table) -> int:
    """Insert `rows` (the table's columns, or some of them) through the engine's bulk path:
    DuckDB reads the Arrow table, PostgreSQL a COPY into a staging table. Returns rows."""
    if rows.num_rows == 0:
        return 0
    columns = [c.name for c in table.columns if c.name in rows.column_names]
    rows = rows.select(columns)
    column_list = ", ".join(_quote(c) for c in columns)
    dialect = conn.dialect.name
    if dialect == "duckdb":
        duck = conn.connection.driver_connection
        view = f"staging_{table.name}_{secrets.token_hex(4)}"
        duck.register(view, rows)
        try:
            conn.exec_driver_sql(f"INSERT INTO {_quote(table.name)} ({column_list}) "
                                 f"SELECT {column_list} FROM {view}")
        finally:
            duck.unregister(view)
    elif dialect == "postgresql":
        staging = f"staging_{table.name}_{secrets.token_hex(4)}"
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {staging} "
                             f"(LIKE {_quote(table.name)}) ON COMMIT DROP")
        # Arrow formats time-zone-aware timestamps slowly; write them as UTC wall-clock
        # values and let this transaction read them as UTC.
        conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
        naive = pa.schema([pa.field(f.name, pa.timestamp(f.type.unit))
                           if pa.types.is_timestamp(f.type) and f.type.tz else f
                           for f in rows.schema])
        buffer = io.BytesIO()
        pacsv.write_csv(rows.cast(naive), buffer, pacsv.WriteOptions(include_header=False))
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
                f"COPY {staging} ({column_list}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        conn.exec_driver_sql(f"INSERT INTO {_quote(table.name)} ({column_list}) "
                             f"SELECT {column_list} FROM {staging}")
    else:  # pragma: no cover - other engines are not supported targets
        raise NotImplementedError(f"no bulk path for dialect {dialect}")
    return rows.num_rows


def arrow_schema(table: sa.Table) -> pa.Schema:
    """Arrow schema mirroring a SQLAlchemy table (for building small frames exactly)."""
    def arrow_type(column: sa.Column) -> pa.DataType:
        t = column.type
        if isinstance(t, sa.Boolean):
            return pa.bool_()
        if isinstance(t, sa.BigInteger | sa.Integer | sa.SmallInteger):
            return pa.int64()
        if isinstance(t, sa.DateTime):
            return pa.timestamp("us", tz="UTC")
        if isinstance(t, sa.Date):
            return pa.date32()
        if isinstance(t, sa.Numeric | sa.Float | sa.Double):
            return pa.float64()
        return pa.string()

    return pa.schema([(c.name, arrow_type(c)) for c in table.columns])
