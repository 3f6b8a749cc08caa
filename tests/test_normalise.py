"""Normalising portal payloads: hand-built records with the quirks real sources have."""

import unicodedata

import pandas as pd
import pytest

from domain.periods import Month
from domain.units import UnitRegistry
from registry.settings import PROJECT_ROOT
from transforms import national_portal as np_
from transforms.coerce import CoercionError, to_count, to_number

UNITS = UnitRegistry.from_folder(PROJECT_ROOT / "config" / "units")
MONTH = Month(2025, 10)


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


def test_legacy_766_record_maps_unit_through_crosswalk_and_reads_strings() -> None:
    frame = np_.legacy_766_scores([legacy_record()], MONTH, UNITS)
    row = frame.iloc[0]
    assert row["unit_code"] == "H97"
    assert row["unit_level"] == "province"
    assert row["mdhl"] == pytest.approx(17.55)
    assert row["published_rank"] == 1
    assert row["parse_errors"] is None


def test_unknown_legacy_id_gives_no_unit_code_even_if_ma_coquan_is_known() -> None:
    frame = np_.legacy_766_scores([legacy_record(ID="123")], MONTH, UNITS)
    assert frame.iloc[0]["unit_code"] is None
    assert frame.iloc[0]["published_unit_code"] == "H97"


def test_decomposed_vietnamese_names_are_stored_composed() -> None:
    nfd = unicodedata.normalize("NFD", "UBND tỉnh Ví Dụ")
    frame = np_.legacy_766_scores([legacy_record(TEN_COQUAN=nfd)], MONTH, UNITS)
    assert frame.iloc[0]["unit_name"] == unicodedata.normalize("NFC", "UBND tỉnh Ví Dụ")


def test_unreadable_value_is_reported_not_raised() -> None:
    frame = np_.legacy_766_scores([legacy_record(TDGQ="abc")], MONTH, UNITS)
    assert pd.isna(frame.iloc[0]["tdgq"])
    assert "TDGQ" in frame.iloc[0]["parse_errors"]


def test_component_sum_gap_is_total_minus_components() -> None:
    frame = np_.legacy_766_scores([legacy_record(), legacy_record(ID="900002", TONG_SCORE=90)],
                                  MONTH, UNITS)
    gaps = np_.score_check_columns(frame)["component_sum_gap"].tolist()
    # 18.91 + 17.55 + 19.02 + 9.1 + 8.2 + 16.4 = 89.18
    assert gaps[0] == pytest.approx(0.0, abs=1e-9)
    assert gaps[1] == pytest.approx(0.82)


def test_reporting_item_reads_group_scores_and_child_group_level() -> None:
    commune_id = UNITS.source_id("reporting", "H97.101", MONTH.first_day)
    item = {"departmentId": commune_id, "departmentName": "UBND phường Sơn Minh",
            "departmentCode": "H97.101", "totalScore": 91.2, "childGroup": "COMMUNE",
            "groupScores": {"CKMB": 18.0, "TDGQ": 19.6, "CLGQ": 8.1, "TTTT": 8.5,
                            "MDHL": 18.0, "MDSH": 19.0}}
    row = np_.reporting_766_scores([item], MONTH, UNITS).iloc[0]
    assert (row["unit_code"], row["unit_level"], row["tdgq"]) == ("H97.101", "commune", 19.6)


def test_monthly_counters_take_unit_from_request_and_balance_gap() -> None:
    record = {"HS_TOTAL": "100", "HTN_TRUCTIEP_TOTAL": 40, "HTN_BUUCHINH_TOTAL": "",
              "HTN_TRUCTUYEN_TOTAL": 55, "HTN_TRUCTUYEN_KHONGCHUAN_TOTAL": 3, "DB_TOTAL": 101}
    frame = np_.legacy_monthly_counters([("11397", record)], MONTH, UNITS)
    checked = np_.monthly_counter_check_columns(frame).iloc[0]
    assert checked["unit_code"] == "H97"
    assert checked["received_postal"] == 0
    assert checked["channel_balance_gap"] == 2  # 100 - (40 + 0 + 55 + 3)
    assert checked["sync_excess"] == 1
