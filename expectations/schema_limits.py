"""The warehouse's column limits, derived from warehouse/schema.py, as checks before a load.

DuckDB ignores a VARCHAR's length; PostgreSQL refuses a longer value. Both refuse an
integer beyond its SQL type and a number beyond NUMERIC(p, s), and one refused value
fails the transaction of the whole partition. So every limit of the table a dataset loads
is checked on its rows before the load, as an error-level check `<column>_fits`: a row
over a limit is quarantined with a reason naming the column and the limit, and the two
engines load the same rows.

The limits are read from the schema, never written a second time:
- String(n): at most n characters (both engines count code points, as Python does);
- SmallInteger / Integer / BigInteger: SMALLINT / INTEGER / BIGINT's range (16, 32, 64
  bits, two's complement);
- Numeric(p, s): rounded to s decimals, at most p - s digits before the point, i.e.
  |value| < 10^(p-s) - 10^(-s) / 2 (the bound itself rounds up to 10^(p-s)).
Text, an unbounded String, floating point, booleans, dates and timestamps have none; the
schema holds no CHECK constraint (a domain range, like a 766 component's maximum, is the
suite's own check).

Which limits a dataset's rows must fit: those of its table (the registry's `table`)
whose column the rows carry under the same name. The validators render them: SQL rules
for the dossier rules (`sql_rules.run_rules`), expectations for the GX suites
(`gx_runner.validate_frame`). Rows that are not fact rows but reach other tables in the
same transaction (quarantine rows: `for_quarantine`, in warehouse.publish; learned
units: `fits`) are fitted too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

# Bits of each integer type (the one fact this module knows of SQL, not of our schema).
_INTEGER_BITS = ((sa.SmallInteger, 16), (sa.BigInteger, 64), (sa.Integer, 32))
# The columns of quarantine_row that repeat a quarantined row's value beside its JSON.
QUARANTINE_LOOKUP = ("unit_code", "source_unit_id")


@dataclass(frozen=True)
class ColumnLimit:
    """What one column of a warehouse table accepts: a length, or a range of values
    (integers: inclusive bounds; numerics: |value| strictly below `bound`)."""

    table: str
    column: str
    sql_type: str                  # as PostgreSQL spells it, e.g. VARCHAR(32), NUMERIC(6, 2)
    max_length: int | None = None  # String(n)
    minimum: int | None = None     # integer types
    maximum: int | None = None
    precision: int | None = None   # Numeric(p, s)
    scale: int | None = None

    @property
    def bound(self) -> Decimal | None:
        """Numeric(p, s): |value| must stay below 10^(p-s) - 10^(-s) / 2."""
        if self.precision is None:
            return None
        scale = self.scale or 0
        return Decimal(10) ** (self.precision - scale) - Decimal(5).scaleb(-scale - 1)

    @property
    def name(self) -> str:
        """The check's name, e.g. procedure_code_fits (rule:procedure_code_fits)."""
        return f"{self.column}_fits"

    @property
    def notes(self) -> str:
        """The reason a failing row is quarantined with: the column and its limit."""
        where = f"{self.table}.{self.column} {self.sql_type}"
        if self.max_length is not None:
            return f"{self.column} has at most {self.max_length} characters ({where})"
        if self.precision is not None:
            largest = (Decimal(10) ** (self.precision - self.scale)
                       - Decimal(1).scaleb(-self.scale))
            places = f"{self.scale} decimal" + "s" * (self.scale != 1)
            return f"{self.column} rounded to {places} is within ±{largest} ({where})"
        return f"{self.column} is within [{self.minimum}, {self.maximum}] ({where})"

    def fits(self, value: Any) -> bool:
        """Whether a Python value fits (None, NaN -- missing in a frame -- and values of
        another type: yes; other checks are about presence and types)."""
        if value is None:
            return True
        if self.max_length is not None:
            return not isinstance(value, str) or len(value) <= self.max_length
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return True
        if self.bound is not None:  # a float as its shortest text, as PostgreSQL gets it
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            return number.is_nan() or abs(number) < self.bound
        return self.minimum <= value <= self.maximum

    def fails_when(self) -> str:
        """The SQL condition (DuckDB) under which a row breaks the limit."""
        column = '"' + self.column.replace('"', '""') + '"'
        if self.max_length is not None:
            return f"length({column}) > {self.max_length}"
        if self.bound is not None:
            return f"abs({column}) >= {self.bound}"  # NaN too: DuckDB sorts it above all
        return f"{column} NOT BETWEEN {self.minimum} AND {self.maximum}"

    def expectation(self) -> dict[str, Any]:
        """The Great Expectations configuration (suite JSON shape) of the check."""
        if self.max_length is not None:
            kind = "expect_column_value_lengths_to_be_between"
            kwargs: dict[str, Any] = {"max_value": self.max_length}
        elif self.bound is not None:
            kind = "expect_column_values_to_be_between"
            kwargs = {"min_value": -float(self.bound), "max_value": float(self.bound),
                      "strict_min": True, "strict_max": True}
        else:
            kind = "expect_column_values_to_be_between"
            kwargs = {"min_value": self.minimum, "max_value": self.maximum}
        return {"type": kind, "kwargs": {"column": self.column, **kwargs},
                "meta": {"severity": "error", "notes": self.notes, "name": self.name}}


def _limit(table: str, column: sa.Column) -> ColumnLimit | None:
    from sqlalchemy.dialects import postgresql

    kind = column.type
    sql_type = kind.compile(dialect=postgresql.dialect())
    if isinstance(kind, sa.String):  # Text is a String without a length
        return (ColumnLimit(table, column.name, sql_type, max_length=kind.length)
                if kind.length else None)
    if isinstance(kind, sa.Integer):
        bits = next(b for t, b in _INTEGER_BITS if isinstance(kind, t))
        return ColumnLimit(table, column.name, sql_type, minimum=-(2 ** (bits - 1)),
                           maximum=2 ** (bits - 1) - 1)
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        if kind.precision is None:
            return None
        return ColumnLimit(table, column.name, sql_type, precision=kind.precision,
                           scale=kind.scale or 0)
    return None


@cache
def column_limits(table: str | sa.Table) -> dict[str, ColumnLimit]:
    """Every limited column of a table (by name: of warehouse/schema.py), by column name."""
    if isinstance(table, str):
        from warehouse.schema import metadata

        if table not in metadata.tables:
            raise KeyError(f"no warehouse table {table!r} in warehouse/schema.py")
        table = metadata.tables[table]
    limits = (_limit(table.name, c) for c in table.columns)
    return {limit.column: limit for limit in limits if limit is not None}


def limits_for(table: str, columns: Iterable[str]) -> list[ColumnLimit]:
    """The limits of `table` that rows carrying `columns` must fit, in the table's order."""
    carried = set(columns)
    return [limit for name, limit in column_limits(table).items() if name in carried]


def violations(table: str, values: Mapping[str, Any]) -> list[ColumnLimit]:
    """The limits of `table` that a row of `values` (column -> value) breaks."""
    limits = column_limits(table)
    return [limits[c] for c, v in values.items() if c in limits and not limits[c].fits(v)]


def for_quarantine(rows: pa.Table) -> pa.Table:
    """Quarantined rows ready for quarantine_row, which repeats their unit_code and
    source_unit_id beside the row's JSON: a value longer than that column there (often
    the very reason the row is quarantined) is cut to the column's length, and kept whole
    in the JSON as `<column>_as_sent`."""
    limits = column_limits("quarantine_row")
    for name in QUARANTINE_LOOKUP:
        if name not in rows.column_names:
            continue
        values = rows.column(name)
        if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            continue
        width = limits[name].max_length
        longer = pc.fill_null(pc.greater(pc.utf8_length(values), width), False)
        if not pc.any(longer).as_py():
            continue
        rows = rows.append_column(f"{name}_as_sent", pc.if_else(longer, values, None))
        cut = pa.array([v[:width] if v is not None else None for v in values.to_pylist()],
                       values.type)
        rows = rows.set_column(rows.column_names.index(name), name, cut)
    return rows
