"""Normalising portal payloads: hand-built records with the quirks real sources have."""

import unicodedata

import pandas as pd
import pytest

from domain.periods import Period
from domain.units import UnitRegistry
from registry.settings import PROJECT_ROOT
from transforms import national_portal as np_
from transforms.coerce import CoercionError, to_count, to_number

UNITS = UnitRegistry.from_folder(PROJECT_ROOT / "config" / "units")
MONTH = Period("month", 2025, 10)
NATIONAL = "national"


def legacy_record(**overrides: object) -> dict:
    record = {"ID": "900001", "TEN_COQUAN": "UBND tỉnh Ví Dụ", "MA_COQUAN": "H97",
              "LOAI_COQUAN": "1", "TDGQ": 18.91, "MDHL": "17.55", "MDSH": 19.02, "TTTT": 9.1,
              "CLGQ": 8.2, "CKMB": 16.4, "TONG_SCORE": 89.18, "ROW_STT": "1"}
    record.update(overrides)
    return record


def test_numbers_sent_as_strings_and_empty_strings_read_as_zero() -> None:
    assert to_number("17.55") == 17.55
    assert to_number("") == 0.0
    assert to_number(None) is None
    assert to_count("41250") == 41250
    with pytest.raises(CoercionError):
        to_count("12.5")
    with pytest.raises(CoercionError):
        to_number("n/a")


def test_legacy_766_record_keeps_the_sources_identity_and_reads_strings() -> None:
    frame = np_.legacy_766_scores([(NATIONAL, legacy_record())], MONTH)
    row = frame.iloc[0]
    assert row["unit_code"] is None  # left to unit matching
    assert (row["source_unit_id"], row["published_unit_code"], row["unit_name"]) == (
        "900001", "H97", "UBND tỉnh Ví Dụ")
    assert (row["unit_level"], row["list_scope"], row["period_id"]) == (
        "province", NATIONAL, 202510)
    assert row["mdhl"] == pytest.approx(17.55)
    assert row["published_rank"] == 1
    assert row["parse_errors"] is None


def test_a_quarter_is_its_own_period_id() -> None:
    frame = np_.legacy_766_scores([(NATIONAL, legacy_record())], Period("quarter", 2025, 4))
    assert frame.iloc[0]["period_id"] == 202524  # 2025 * 100 + 20 + 4


def test_decomposed_vietnamese_names_are_stored_composed() -> None:
    nfd = unicodedata.normalize("NFD", "UBND tỉnh Ví Dụ")
    frame = np_.legacy_766_scores([(NATIONAL, legacy_record(TEN_COQUAN=nfd))], MONTH)
    assert frame.iloc[0]["unit_name"] == unicodedata.normalize("NFC", "UBND tỉnh Ví Dụ")


def test_unreadable_value_is_reported_not_raised() -> None:
    frame = np_.legacy_766_scores([(NATIONAL, legacy_record(TDGQ="abc"))], MONTH)
    assert pd.isna(frame.iloc[0]["tdgq"])
    assert "TDGQ" in frame.iloc[0]["parse_errors"]


def test_component_sum_gap_is_total_minus_components() -> None:
    frame = np_.legacy_766_scores([(NATIONAL, legacy_record()),
                                   (NATIONAL, legacy_record(ID="900002", TONG_SCORE=90))],
                                  MONTH)
    gaps = np_.score_check_columns(frame)["component_sum_gap"].tolist()
    # 18.91 + 17.55 + 19.02 + 9.1 + 8.2 + 16.4 = 89.18
    assert gaps[0] == pytest.approx(0.0, abs=1e-9)
    assert gaps[1] == pytest.approx(0.82)


def test_reporting_item_reads_group_scores_and_child_group_level() -> None:
    item = {"departmentId": "01960a1e-0000-7000-8000-000000000123",
            "departmentName": "UBND phường Sơn Minh", "departmentCode": "H97.101",
            "totalScore": "91.20", "childGroup": "COMMUNE",
            "groupScores": {"CKMB": 18.0, "TDGQ": 19.6, "CLGQ": 8.1, "TTTT": 8.5,
                            "MDHL": 18.0, "MDSH": 19.0}}
    row = np_.reporting_766_scores([("91", item)], MONTH).iloc[0]
    assert (row["unit_level"], row["list_scope"], row["tdgq"], row["total_score"]) == (
        "commune", "91", 19.6, 91.2)


def test_monthly_counters_take_unit_from_request_and_balance_gap() -> None:
    record = {"HS_TOTAL": "100", "HTN_TRUCTIEP_TOTAL": 40, "HTN_BUUCHINH_TOTAL": "",
              "HTN_TRUCTUYEN_TOTAL": 55, "HTN_TRUCTUYEN_KHONGCHUAN_TOTAL": 3, "DB_TOTAL": 101}
    frame = np_.legacy_monthly_counters([("11391", record)], MONTH, UNITS)
    checked = np_.monthly_counter_check_columns(frame).iloc[0]
    assert checked["unit_code"] == "91"  # config/units/source_ids.csv, scheme legacy_tinh
    assert checked["received_postal"] == 0
    assert checked["channel_balance_gap"] == 2  # 100 - (40 + 0 + 55 + 3)
    assert checked["sync_excess"] == 1


def _chart(*scored: int) -> list[dict]:
    """A monthlyChart with the given months scored and the others null."""
    return [{"month": f"{m:02d}", "averageScore": 70.0 if m in scored else None}
            for m in range(1, 13)]


@pytest.mark.parametrize(("asked", "chart", "covered"), [
    ("2026-YTD03", _chart(1, 2, 3), "2026-YTD03"),
    ("2026-YTD03", _chart(1, 2), "2026-YTD02"),          # one month short
    ("2026-YTD03", _chart(1, 2, 3, 4, 5), "2026-YTD05"),  # asked late: the year so far
    ("2025", _chart(*range(1, 13)), "2025"),
    ("2026-03", _chart(1, 2), "unscored"),
    ("2026-Q1", _chart(1, 2, 3), "2026-Q1"),
    ("2026-YTD03", [], None),                            # the answer does not say
    ("2026-YTD03", None, None),
])
def test_the_period_an_answer_covers_is_read_from_its_monthly_chart(asked, chart,
                                                                    covered) -> None:
    from sources.national_portal import covered_period

    assert covered_period(Period.parse(asked), chart) == covered
