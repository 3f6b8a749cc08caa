"""Named checks on computed results, beside the suites and rules that check source rows.

The registry names them per dataset (`validation.checks`); `run_checks` runs those names.
Each check gives a partition-level outcome and, when it fails, one outcome per unit
concerned (see expectations.outcomes). All are warnings: the data is loaded and the
failure reported.

- `balance`: carried over + received = resolved + in progress + paused + returned +
  withdrawn, per unit and procedure (counters of fact_dossier_monthly).
- `crosscheck`: the export's counters per unit against the vendor's aggregated statistics.
- `numerator_within_denominator`: an indicator's numerator counts a subset of its
  denominator's dossiers, so it is never larger.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from expectations.outcomes import CheckOutcome

# Counters the vendors' aggregated endpoints publish, compared with the export's.
CROSS_CHECKED = ("received_total", "received_online", "received_in_person", "received_postal",
                 "resolved_total", "resolved_early", "resolved_on_time", "resolved_late",
                 "in_progress_on_time", "in_progress_overdue")
BALANCE_IN = ("carried_over", "received_total")
BALANCE_OUT = ("resolved_total", "in_progress_on_time", "in_progress_overdue", "paused",
               "returned", "withdrawn")

Row = Mapping[str, Any]


def _sample(items: Sequence[Mapping[str, Any]]) -> str | None:
    return json.dumps(list(items[:20]), ensure_ascii=False, default=str) if items else None


def balance(rows: Sequence[Row], **_: Any) -> list[CheckOutcome]:
    broken = [r for r in rows
              if sum(r[c] for c in BALANCE_IN) != sum(r[c] for c in BALANCE_OUT)]
    outcome = CheckOutcome(
        check_name="balance:" + "+".join(BALANCE_IN) + "=" + "+".join(BALANCE_OUT),
        column=None, severity="warning", success=not broken, element_count=len(rows),
        unexpected_count=len(broken),
        details=_sample([{k: r[k] for k in ("unit_code", "procedure_code")} for r in broken]))
    return outcome.per_unit(Counter(r["unit_code"] for r in broken))


def crosscheck(rows: Sequence[Row], *, aggregates: Sequence[Row] = (),
               agencies: Mapping[str, str] | None = None, **_: Any) -> list[CheckOutcome]:
    """Compare counters summed per unit with the vendor's aggregates, per counter.

    Aggregates name units by the vendor's agency ID (iGate) or agency code (OpenCPS); a
    vendor that does not publish a counter is not compared on it."""
    ours: dict[str, Counter[str]] = {}
    for row in rows:
        bucket = ours.setdefault(row["unit_code"], Counter())
        for counter in CROSS_CHECKED:
            bucket[counter] += int(row[counter])
    published: dict[str, Row] = {}
    for row in aggregates:
        code = row.get("published_unit_code") or (agencies or {}).get(
            row.get("source_unit_id", ""))
        published[code or f"unmapped:{row.get('source_unit_id')}"] = row
    units = sorted(set(ours) | set(published))
    outcomes: list[CheckOutcome] = []
    for counter in CROSS_CHECKED:
        if not any(counter in a for a in published.values()):
            continue
        compared, differences = 0, []
        for unit in units:
            agg = published.get(unit, {})
            if agg and counter not in agg:
                continue
            mine, theirs = ours.get(unit, Counter())[counter], int(agg.get(counter, 0))
            compared += 1
            if mine != theirs:
                differences.append({"unit_code": unit, "export": mine, "aggregate": theirs})
        outcome = CheckOutcome(
            check_name=f"crosscheck:{counter}", column=counter, severity="warning",
            success=not differences, element_count=compared,
            unexpected_count=len(differences), details=_sample(differences))
        outcomes += outcome.per_unit(Counter(d["unit_code"] for d in differences
                                             if not d["unit_code"].startswith("unmapped:")))
    return outcomes


def numerator_within_denominator(rows: Sequence[Row], **_: Any) -> list[CheckOutcome]:
    broken = [r for r in rows if r["numerator"] > r["denominator"]]
    outcome = CheckOutcome(
        check_name="numerator_within_denominator", column="numerator", severity="warning",
        success=not broken, element_count=len(rows), unexpected_count=len(broken),
        details=_sample([{k: r[k] for k in ("unit_code", "indicator_code", "numerator",
                                            "denominator")} for r in broken]))
    return outcome.per_unit(Counter(r["unit_code"] for r in broken))


def points_within_maximum(rows: Sequence[Row], **_: Any) -> list[CheckOutcome]:
    """Criterion points between 0 and the criterion's maximum."""
    broken = [r for r in rows if not 0 <= r["points"] <= float(r["max_points"]) + 1e-9]
    outcome = CheckOutcome(
        check_name="points_within_maximum", column="points", severity="critical",
        success=not broken, element_count=len(rows), unexpected_count=len(broken),
        details=_sample([{k: r[k] for k in ("scheme", "unit_code", "criterion_code", "points",
                                            "max_points")} for r in broken]))
    return outcome.per_unit(Counter(r["unit_code"] for r in broken))


def recomputed_766_matches(rows: Sequence[Row], *, reconciliation: Sequence[Row] = (),
                           **_: Any) -> list[CheckOutcome]:
    """The 766 recomputed from the published numerators and denominators is within 0.01 of
    the published score, per metric, component and total (where both are known)."""
    from marts.scoring import GAP_TOLERANCE, gaps_beyond

    compared = [r for r in reconciliation if r["gap"] is not None]
    broken = gaps_beyond(compared)
    outcome = CheckOutcome(
        check_name="recomputed_766_matches", column="gap", severity="warning",
        success=not broken, element_count=len(compared), unexpected_count=len(broken),
        details=(f"gap above {GAP_TOLERANCE}: " + _sample([
            {k: r[k] for k in ("unit_code", "level", "code", "published", "recomputed",
                               "gap")} for r in broken])) if broken else None)
    return outcome.per_unit(Counter(r["unit_code"] for r in broken))


def maxima_766_as_published(rows: Sequence[Row], *, maxima: Sequence[Row] = (),
                            **_: Any) -> list[CheckOutcome]:
    """Each published 766 metric's maximum (maxScore) is the rule set's: a different one
    means the portal changed its rules, and config/schemes/766 needs a new version."""
    broken = [m for m in maxima if m["published_max"] is not None
              and abs(m["published_max"] - m["rule_max"]) > 1e-9]
    outcome = CheckOutcome(
        check_name="maxima_766_as_published", column="max_score", severity="warning",
        success=not broken, element_count=len(maxima), unexpected_count=len(broken),
        details=_sample([dict(m) for m in broken]))
    return outcome.per_unit(Counter(m["unit_code"] for m in broken))


CHECKS: dict[str, Callable[..., list[CheckOutcome]]] = {
    "balance": balance,
    "crosscheck": crosscheck,
    "numerator_within_denominator": numerator_within_denominator,
    "points_within_maximum": points_within_maximum,
    "recomputed_766_matches": recomputed_766_matches,
    "maxima_766_as_published": maxima_766_as_published,
}


def run_checks(names: Sequence[str], rows: Sequence[Row], **inputs: Any) -> list[CheckOutcome]:
    """Run the named checks (from the registry) on result rows; `inputs` are what some
    checks also need (e.g. the aggregates a cross-check compares with)."""
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise KeyError(f"unknown checks {unknown}; known: {sorted(CHECKS)}")
    return [outcome for name in names for outcome in CHECKS[name](rows, **inputs)]
