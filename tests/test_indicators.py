"""Indicator catalogue and values: ratios of summed counters, NULL on a zero denominator,
each indicator reading its own dataset's facts."""

from __future__ import annotations

import pytest

from marts.indicators import Catalogue, FactColumns, indicator_rows
from registry.settings import PROJECT_ROOT
from transforms.dossiers import COUNTER_COLUMNS

# Written out here, not taken from the registry, so a change there shows up below.
STOCKS = frozenset({"carried_over", "in_progress_on_time", "in_progress_overdue", "paused"})
FACTS = {"dossiers": FactColumns(frozenset(COUNTER_COLUMNS), STOCKS),
         "portal_monthly_counters": FactColumns(frozenset(
             {"dossiers_handled", "received_online", "processed_on_time", "processed_late"})),
         "documents": FactColumns(frozenset(
             {"incoming", "outgoing", "outgoing_signed", "hub_sent", "hub_received",
              "work_files", "work_files_online", "processed_on_time", "processed_late"}))}
CATALOGUE = Catalogue.from_file(PROJECT_ROOT / "config" / "indicators.yaml", FACTS)


def counters(**values: int) -> dict:
    return {"unit_code": "H97.101", "province_code": "H97",
            **{c: values.get(c, 0) for c in COUNTER_COLUMNS}}


def rows_for(facts: dict, catalogue: Catalogue = CATALOGUE, level: str = "commune",
             year: int = 2025) -> dict[str, dict]:
    rows = indicator_rows(facts, catalogue, 202510, year, {"H97.101": level, "H97": "province"},
                          lambda unit: "H97")
    return {r["indicator_code"]: r for r in rows}


def test_catalogue_has_names_in_both_languages_and_known_counters() -> None:
    assert {i.code for i in CATALOGUE.indicators} >= {
        "on_time_rate", "online_intake_rate", "postal_return_rate", "e_result_rate",
        "online_payment_rate"}
    assert all(i.name_vi and i.name_en for i in CATALOGUE.indicators)
    assert CATALOGUE.datasets == ["dossiers", "documents"]


def test_catalogue_columns_are_the_registrys_fact_columns(settings) -> None:
    from steps.marts import fact_columns

    facts = fact_columns(settings)
    assert facts["dossiers"] == FACTS["dossiers"]
    assert facts["documents"] == FACTS["documents"]
    assert FACTS["portal_monthly_counters"].columns <= facts["portal_monthly_counters"].columns


def test_on_time_rate_is_early_plus_on_time_over_resolved_and_checks_target() -> None:
    row = rows_for({"dossiers": [counters(resolved_total=200, resolved_early=150,
                                          resolved_on_time=45, resolved_late=5)]}
                   )["on_time_rate"]
    assert (row["numerator"], row["denominator"]) == (195, 200)
    assert row["value"] == pytest.approx(0.975)
    assert (row["target"], row["met"]) == (0.98, False)
    assert (row["unit_code"], row["province_code"], row["period_id"]) == ("H97.101", "H97",
                                                                          202510)


def test_zero_denominator_gives_no_value_and_no_verdict() -> None:
    row = rows_for({"dossiers": [counters(received_total=5)]})["online_payment_rate"]
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
    path.write_text("formula_version: x\ndataset: dossiers\nindicators:\n  - {code: a, "
                    "name_vi: a, name_en: a, numerator: [nope], denominator: [received_total],"
                    " direction: higher_is_better}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown counters"):
        Catalogue.from_file(path, FACTS)


def test_indicators_on_month_end_stocks_are_not_summable_over_months() -> None:
    summable = {i.code: i.summable_over_months for i in CATALOGUE.indicators}
    assert summable["on_time_rate_with_in_progress"] is False
    assert summable["on_time_rate"] is True and summable["online_intake_rate"] is True


def test_indicators_of_two_sources_sit_side_by_side(tmp_path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text("""formula_version: t
dataset: dossiers
indicators:
  - {code: online_intake_rate, name_vi: a, name_en: a, numerator: [received_online],
     denominator: [received_total], direction: higher_is_better}
  - {code: portal_processed_on_time, dataset: portal_monthly_counters, name_vi: b,
     name_en: b, numerator: [processed_on_time],
     denominator: [processed_on_time, processed_late], direction: higher_is_better}
""", encoding="utf-8")
    catalogue = Catalogue.from_file(path, FACTS)
    assert catalogue.datasets == ["dossiers", "portal_monthly_counters"]
    rows = indicator_rows(
        {"dossiers": [counters(received_total=10, received_online=4)],
         "portal_monthly_counters": [{"unit_code": "H97", "processed_on_time": 90,
                                      "processed_late": 10}]},
        catalogue, 202510, 2025, {}, lambda unit: {"H97": "H97"}.get(unit))
    got = {(r["unit_code"], r["indicator_code"]): (r["numerator"], r["denominator"],
                                                   r["province_code"]) for r in rows}
    assert got == {("H97.101", "online_intake_rate"): (4, 10, "H97"),
                   ("H97", "portal_processed_on_time"): (90, 100, "H97")}


def test_each_year_gets_the_formula_and_target_of_its_time() -> None:
    """config/indicators.yaml: online payments counted over every dossier before 2024, over
    fee-bearing dossiers since; the 766-style on-time rate exists from 2022 on."""
    month = counters(received_total=400, received_fee_bearing=100, received_paid_online=40,
                     resolved_total=200, resolved_early=150, resolved_on_time=45,
                     in_progress_on_time=10, in_progress_overdue=5)
    old = rows_for({"dossiers": [month]}, year=2021)
    new = rows_for({"dossiers": [month]}, year=2024)
    paid_2021, paid_2024 = old["online_payment_rate"], new["online_payment_rate"]
    assert (paid_2021["numerator"], paid_2021["denominator"]) == (40, 400)
    assert (paid_2024["numerator"], paid_2024["denominator"]) == (40, 100)
    assert (paid_2021["target"], paid_2024["target"]) == (None, 0.50)  # a target from 2024
    assert paid_2021["formula_version"] != paid_2024["formula_version"]
    assert "on_time_rate_with_in_progress" not in old
    tdgq = new["on_time_rate_with_in_progress"]
    assert (tdgq["numerator"], tdgq["denominator"]) == (205, 215)  # 150+45+10 / 200+10+5
    # online intake: a commune's target was 40% up to 2024, 50% in 2025, 70% from 2026
    assert [rows_for({"dossiers": [month]}, year=y)["online_intake_rate"]["target"]
            for y in (2019, 2024, 2025, 2026)] == [0.40, 0.40, 0.50, 0.70]


def test_a_formula_naming_an_unknown_counter_is_refused(tmp_path) -> None:
    import yaml

    data = yaml.safe_load((PROJECT_ROOT / "config" / "indicators.yaml").read_text())
    payment = next(i for i in data["indicators"] if i["code"] == "online_payment_rate")
    payment["formulas"][-1]["denominator"] = ["received_by_pigeon"]
    path = tmp_path / "indicators.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(ValueError, match=r"online_payment_rate denominator \(formula .*"
                                         r"received_by_pigeon"):
        Catalogue.from_file(path, FACTS)
