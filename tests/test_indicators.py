"""Indicator catalogue and values: ratios of summed counters, NULL on a zero denominator."""

from __future__ import annotations

import pytest

from marts.indicators import Catalogue, indicator_rows
from registry.settings import PROJECT_ROOT
from transforms.dossiers import COUNTER_COLUMNS

CATALOGUE = Catalogue.from_file(PROJECT_ROOT / "config" / "indicators.yaml")


def counters(**values: int) -> dict:
    return {"unit_code": "H97.101", "period_id": 202510,
            **{c: values.get(c, 0) for c in COUNTER_COLUMNS}}


def by_code(rows: list[dict]) -> dict[str, dict]:
    return {r["indicator_code"]: r for r in rows}


def test_catalogue_has_names_in_both_languages_and_known_counters() -> None:
    assert {i.code for i in CATALOGUE.indicators} >= {
        "on_time_rate", "online_intake_rate", "postal_return_rate", "digitised_dossier_rate",
        "e_result_rate", "online_payment_rate"}
    assert all(i.name_vi and i.name_en for i in CATALOGUE.indicators)


def test_on_time_rate_is_early_plus_on_time_over_resolved_and_checks_target() -> None:
    rows = by_code(indicator_rows([counters(resolved_total=200, resolved_early=150,
                                            resolved_on_time=45, resolved_late=5)],
                                  CATALOGUE, {"H97.101": "commune"}, 2025))
    row = rows["on_time_rate"]
    assert (row["numerator"], row["denominator"]) == (195, 200)
    assert row["value"] == pytest.approx(0.975)
    assert (row["target"], row["met"]) == (0.98, False)


def test_zero_denominator_gives_no_value_and_no_verdict() -> None:
    row = by_code(indicator_rows([counters(received_total=5)], CATALOGUE,
                                 {"H97.101": "commune"}, 2025))["online_payment_rate"]
    assert (row["numerator"], row["denominator"], row["value"], row["met"]) == (0, 0, None,
                                                                                None)


def test_target_depends_on_level_and_year() -> None:
    ind = next(i for i in CATALOGUE.indicators if i.code == "online_intake_rate")
    assert ind.target_for("commune", 2024) == 0.40
    assert ind.target_for("commune", 2025) == 0.50
    assert ind.target_for("commune", 2026) == 0.70
    assert ind.target_for("department", 2026) == 0.90
    assert ind.target_for("unknown-level", 2026) is None


def test_unknown_counter_in_catalogue_is_rejected(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("formula_version: x\nindicators:\n  - {code: a, name_vi: a, name_en: a, "
                    "numerator: [nope], denominator: [received_total], "
                    "direction: higher_is_better}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown counters"):
        Catalogue.from_file(path)


def test_indicators_on_month_end_stocks_are_not_summable_over_months() -> None:
    summable = {i.code: i.summable_over_months for i in CATALOGUE.indicators}
    assert summable["on_time_rate_with_in_progress"] is False
    assert summable["on_time_rate"] is True and summable["online_intake_rate"] is True
