"""Run a Great Expectations suite (one per dataset, named in the registry) on one
partition's frame.

GX is imported inside `validate_frame` (it costs seconds and ~250 MB), never at DAG parse
time. An ephemeral context is used: suites come from `expectations/suites/*.json`, and the
limits of the warehouse table the frame feeds (expectations/schema_limits.py, derived from
warehouse/schema.py) are added to them as critical expectations named `<column>_fits`.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from expectations.outcomes import HOLDS_ROWS, SEVERITIES, CheckOutcome

SUITES_DIR = Path(__file__).resolve().parent / "suites"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RowFailure:
    """A check a row failed: its name, the column it concerns (a pair check: the column
    that must not exceed the other), and the suite's notes in English and Vietnamese."""

    check_name: str
    column: str | None
    notes: str
    notes_vi: str | None


@dataclass
class ValidationReport:
    suite: str
    outcomes: list[CheckOutcome]
    row_reasons: dict[int, list[str]] = field(default_factory=dict)
    row_failures: dict[int, list[RowFailure]] = field(default_factory=dict)

    @property
    def quarantined_positions(self) -> list[int]:
        return sorted(self.row_reasons)

    @property
    def failed(self) -> list[CheckOutcome]:
        """Failed checks (their partition-level outcomes)."""
        return [o for o in self.outcomes if not o.success and o.unit_code is None]


def load_suite(name: str) -> dict[str, Any]:
    path = SUITES_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no expectation suite {name!r} at {path}")
    suite = json.loads(path.read_text(encoding="utf-8"))
    for exp in suite["expectations"]:
        severity = exp.get("meta", {}).get("severity")
        if severity not in SEVERITIES:
            raise ValueError(f"{path.name}: {exp['type']} needs meta.severity in {SEVERITIES}")
    return suite


@cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (context.data_sources.add_pandas("partition")
                        .add_dataframe_asset("frame")
                        .add_batch_definition_whole_dataframe("whole"))
    return batch_definition


def _check_name(exp_type: str, kwargs: dict[str, Any], meta: dict[str, Any]) -> str:
    """meta.name when the expectation has one (e.g. unit_name_fits), else type(column)."""
    if meta.get("name"):
        return str(meta["name"])
    column = kwargs.get("column")
    return f"{exp_type}({column})" if column else exp_type


def validate_frame(frame: pd.DataFrame, suite_name: str,
                   parameters: dict[str, Any] | None = None,
                   unit_column: str | None = None,
                   table: str | None = None) -> ValidationReport:
    """Validate `frame` (positional index 0..n-1) against a suite and, with `table` (the
    warehouse table it feeds), against that table's limits on the columns it carries.

    A failed check also gets one outcome per unit among its failing rows (`unit_column`
    names the rows' unit), so the result can be routed to the office overseeing the unit.

    Returns every check's outcome and, for rows failing a critical or error check, the reasons
    (the suite's `notes` for that check). Raises RuntimeError if a check could not run
    at all (a broken suite or a column the frame lacks): that is a bug, not bad data.
    """
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    suite_json = load_suite(suite_name)
    frame = frame.reset_index(drop=True)
    expectations = list(suite_json["expectations"])
    if table:
        from expectations.schema_limits import limits_for

        expectations += [limit.expectation() for limit in limits_for(table, frame.columns)]
    names = [_check_name(e["type"], e["kwargs"], e.get("meta", {})) for e in expectations]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:  # dq_result keys a result by its check's name
        raise ValueError(f"suite {suite_name}: checks {repeated} are named twice")
    suite = gx.ExpectationSuite(
        name=suite_json["name"],
        expectations=[ExpectationConfiguration(**exp).to_domain_obj()
                      for exp in expectations],
    )
    batch = _context().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"},
                            expectation_parameters=parameters or {})
    report = ValidationReport(suite=suite_name, outcomes=[])
    for item in result.results:
        config = item.expectation_config
        meta = config.meta or {}
        kwargs = dict(config.kwargs)
        name = _check_name(config.type, kwargs, meta)
        if item.exception_info and item.exception_info.get("raised_exception"):
            raise RuntimeError(f"suite {suite_name}: check {name} could not run: "
                               f"{item.exception_info.get('exception_message')}")
        res = item.result or {}
        rows = tuple(int(i) for i in res.get("unexpected_index_list") or ())
        details = None
        if not item.success:
            sample = res.get("partial_unexpected_list") or res.get("observed_value")
            details = json.dumps({"notes": meta.get("notes"), "sample": sample},
                                 ensure_ascii=False, default=str)[:2000]
        outcome = CheckOutcome(
            check_name=name, column=kwargs.get("column"), severity=meta["severity"],
            success=bool(item.success), element_count=res.get("element_count"),
            unexpected_count=res.get("unexpected_count"), details=details,
        )
        # Rows name their units; a table-level check concerns the partition as a whole.
        units = (frame[unit_column].iloc[list(rows)].tolist()
                 if unit_column and rows else [])
        report.outcomes += outcome.per_unit(Counter(None if pd.isna(u) else u for u in units))
        if not outcome.success and not rows and config.type.startswith("expect_table"):
            rows = tuple(range(len(frame)))  # a table-level failure holds them all
        if not outcome.success and outcome.severity in HOLDS_ROWS:
            failure = RowFailure(name, kwargs.get("column") or kwargs.get("column_B"),
                                 meta.get("notes") or name, meta.get("notes_vi"))
            for position in rows:
                report.row_reasons.setdefault(position, []).append(failure.notes)
                report.row_failures.setdefault(position, []).append(failure)
    return report
