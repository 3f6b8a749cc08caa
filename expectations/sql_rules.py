"""Vectorised data-quality rules (expectations/rules/<dataset>.yaml) for large datasets.

One DuckDB pass over Parquet files: rows are de-duplicated by key, every rule is counted,
rows failing a critical rule are written to a quarantine file with their reasons and the
rest to a good file. Memory stays bounded (DuckDB streams and spills) whatever the size.

Beside the file's rules, the limits of the warehouse table the rows are loaded into
(expectations/schema_limits.py, derived from warehouse/schema.py) run as critical rules
`<column>_fits` on the columns the rows carry under the table's names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from expectations.outcomes import HOLDS_ROWS, SEVERITIES, CheckOutcome, held_share, rejection
from transforms.dossiers import parquet_source

RULES_DIR = Path(__file__).resolve().parent / "rules"


@dataclass(frozen=True)
class RuleRun:
    outcomes: list[CheckOutcome]
    rows_in: int            # distinct rows after de-duplication
    duplicates_dropped: int
    rows_good: int
    rows_quarantined: int
    rejected: str | None = None  # why the partition is not published (critical failures)


def load_rules(name: str) -> list[dict[str, Any]]:
    path = RULES_DIR / f"{name}.yaml"
    rules = yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]
    for rule in rules:
        if rule.get("severity") not in SEVERITIES or not rule.get("fails_when"):
            raise ValueError(f"{path.name}: rule {rule.get('name')} needs severity in "
                             f"{SEVERITIES} and fails_when")
    return rules


def limit_rules(table: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The limits of warehouse `table` on `columns`, as rules of this module."""
    from expectations.schema_limits import limits_for

    return [{"name": limit.name, "severity": "error", "fails_when": limit.fails_when(),
             "notes": limit.notes} for limit in limits_for(table, columns)]


def _text(value: str) -> str:
    """An SQL string literal (a path or a note), quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def run_rules(rules_name: str, files: Sequence[Path], good_path: Path,
              quarantine_path: Path, *, key: str, order_by: str, memory_limit: str = "1GB",
              known_unique: bool = False, unit_column: str | None = None,
              table: str | None = None, max_held_share: float | None = None) -> RuleRun:
    """Apply a rule set to `files`; write good and quarantined rows as Parquet.

    Rows are de-duplicated by `key` (first by `order_by`) unless the caller already knows
    the keys are unique (`known_unique`), which spares a window over every row. A failed
    rule also gets one outcome per unit among its failing rows (`unit_column`). With
    `table` (the warehouse table the rows feed), its column limits are rules too.

    Rows failing a critical or error rule are held in quarantine. A critical rule failing,
    or more than `max_held_share` of the rows held, rejects the partition: every row then
    goes to quarantine (with the reason first) and none to the good file."""
    import duckdb

    rules = load_rules(rules_name)
    con = duckdb.connect(config={"memory_limit": memory_limit})
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE VIEW src AS SELECT * FROM {parquet_source(files)}")
        if table:
            columns = [row[0] for row in con.execute("DESCRIBE src").fetchall()]
            derived = limit_rules(table, columns)
            clash = {r["name"] for r in rules} & {r["name"] for r in derived}
            if clash:
                raise ValueError(f"{rules_name}.yaml: rules {sorted(clash)} are derived "
                                 f"from the schema of {table}; remove them from the file")
            rules += derived
        fails = {r["name"]: f"coalesce(({r['fails_when']}), false)" for r in rules}
        critical = [fails[r["name"]] for r in rules
                    if r["severity"] in HOLDS_ROWS] or ["false"]
        reasons = "concat_ws('; ', " + ", ".join(
            f"CASE WHEN {fails[r['name']]} THEN {_text(r['notes'])} END"
            for r in rules if r["severity"] in HOLDS_ROWS) + ")"
        if known_unique:
            con.execute("CREATE VIEW rows AS SELECT * FROM src")
        else:
            con.execute(f"""CREATE VIEW rows AS SELECT * EXCLUDE (_n) FROM (
                              SELECT *, row_number() OVER (PARTITION BY {key}
                                                           ORDER BY {order_by}) AS _n
                              FROM src)
                            WHERE _n = 1 OR {key} IS NULL""")
        counts = con.execute(
            "SELECT (SELECT count(*) FROM src), count(*), "
            + ", ".join(f"count(*) FILTER (WHERE {fails[r['name']]})" for r in rules)
            + f", count(*) FILTER (WHERE {' OR '.join(critical)}) FROM rows").fetchone()
        raw_count, distinct_count, *per_rule, bad_count = counts
        outcomes = [CheckOutcome(check_name=f"rule:{rule['name']}", column=None,
                                 severity=rule["severity"], success=n == 0,
                                 element_count=distinct_count, unexpected_count=n,
                                 details=None if n == 0 else rule["notes"])
                    for rule, n in zip(rules, per_rule, strict=True)]
        if max_held_share is not None:
            outcomes.append(held_share(distinct_count, bad_count, max_held_share))
        outcomes.append(CheckOutcome(  # nothing at all is no month to publish
            check_name="rows_present", column=None, severity="critical",
            success=distinct_count > 0, element_count=distinct_count, unexpected_count=None,
            details=None if distinct_count else "no row at all for the partition"))
        rejected = rejection(outcomes)
        bad_where = "true" if rejected else " OR ".join(critical)
        if rejected:
            reasons = f"concat_ws('; ', {_text('partition rejected: ' + rejected)}, {reasons})"
        con.execute(f"COPY (SELECT * FROM rows WHERE NOT ({bad_where})) "
                    f"TO {_text(str(good_path))} (FORMAT parquet)")
        con.execute(f"COPY (SELECT *, {reasons} AS reasons FROM rows WHERE {bad_where}) "
                    f"TO {_text(str(quarantine_path))} (FORMAT parquet)")
        held = distinct_count if rejected else bad_count
        failed = [r for r, n in zip(rules, per_rule, strict=True) if n]
        by_unit: dict[str, dict[str | None, int]] = {}
        if unit_column and failed:  # one more pass, only when something failed
            rows = con.execute(
                f"SELECT {unit_column}, "
                + ", ".join(f"count(*) FILTER (WHERE {fails[r['name']]})" for r in failed)
                + f" FROM rows GROUP BY {unit_column}").fetchall()
            for i, rule in enumerate(failed):
                by_unit[rule["name"]] = {row[0]: row[i + 1] for row in rows}
    finally:
        con.close()
    names = {f"rule:{rule['name']}": rule["name"] for rule in rules}
    outcomes = [unit_outcome for outcome in outcomes
                for unit_outcome in outcome.per_unit(by_unit.get(names.get(
                    outcome.check_name, ""), {}))]
    return RuleRun(outcomes=outcomes, rows_in=distinct_count,
                   duplicates_dropped=raw_count - distinct_count,
                   rows_good=distinct_count - held, rows_quarantined=held, rejected=rejected)
