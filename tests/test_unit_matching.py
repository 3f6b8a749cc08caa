"""Reference units of both eras, their crosswalk, and matching source units to them.

Counts are the packages' published figures (INDICATORS.md: 34 provinces and 3,321
communes from 1 July 2025; 63 provinces, 696 districts and 10,040 rows of communes before);
matching cases are hand-built.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from domain.names import agency_code, name_key
from domain.reference_units import REORGANISATION, reference_units, unit_crosswalk
from domain.units import Unit
from transforms.unit_matching import Override, SourceUnit, UnitMatcher, read_overrides

BEFORE = dt.date(2025, 6, 30)
AFTER = dt.date(2025, 10, 1)


def test_both_eras_have_the_published_unit_counts() -> None:
    counts = Counter((u.level, u.valid_to is None) for u in reference_units())
    assert counts == {("province", True): 34, ("commune", True): 3321,
                      ("province", False): 63, ("district", False): 696,
                      # 10,040 rows: 10,035 communes and 5 island districts without any
                      ("commune", False): 10035}


def test_surviving_provinces_keep_their_codes_as_new_versions() -> None:
    survivors = {"01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31",
                 "33", "37", "38", "40", "42", "44", "46", "48", "51", "52", "56", "66", "68",
                 "75", "79", "80", "82", "86", "91", "92", "96"}
    units = reference_units()
    current = {u.unit_code for u in units if u.level == "province" and u.valid_to is None}
    old = {u.unit_code for u in units if u.level == "province" and u.valid_to}
    assert current == survivors and survivors <= old
    an_giang = [u for u in units if u.unit_code == "91" and u.level == "province"]
    assert {(u.name_vi, u.valid_from, u.valid_to) for u in an_giang} == {
        ("Tỉnh Kiên Giang", dt.date(2019, 1, 1), REORGANISATION),
        ("Tỉnh An Giang", REORGANISATION, None)}


def test_every_old_commune_maps_to_a_current_one_and_every_province_to_predecessors() -> None:
    units = reference_units()
    edges = unit_crosswalk()
    old_communes = {u.unit_code for u in units if u.level == "commune" and u.valid_to}
    new_communes = {u.unit_code for u in units if u.level == "commune" and not u.valid_to}
    commune_edges = [e for e in edges if e.old_level == "commune"]
    assert {e.old_code for e in commune_edges} == old_communes
    assert {e.new_code for e in commune_edges} <= new_communes
    province_edges = [e for e in edges if e.old_level == "province"]
    assert len(province_edges) == 63  # each old province merged whole into one new one
    assert {e.new_code for e in province_edges} == {
        u.unit_code for u in units if u.level == "province" and not u.valid_to}
    # New An Giang (91) = old An Giang (89) + Kiên Giang (91).
    assert {e.old_code for e in province_edges if e.new_code == "91"} == {"89", "91"}
    # Split communes are approximate on every edge, without a weight; whole ones are exact.
    for edge in commune_edges:
        assert edge.approximate == (edge.weight is None) == (edge.basis == "divided_commune")
    split = Counter(e.old_code for e in commune_edges if e.approximate)
    assert split and all(n >= 2 for n in split.values())
    # The five island districts without communes go to their special zone (đặc khu).
    assert len([e for e in edges if e.basis == "special_zone"]) == 5


def test_names_are_nfc() -> None:
    assert all(unicodedata.is_normalized("NFC", u.name_vi) for u in reference_units())


@pytest.mark.parametrize(("sent", "short"), [
    ("000.00.00.H37", "H37"), ("000.00.13.H37", "H37.13"), ("000.05.13.H37", "H37.13.05"),
    ("H37", "H37"), (" h37.13 ", "H37.13"), ("", None), (None, None)])
def test_agency_codes_are_normalised_to_their_short_form(sent, short) -> None:
    assert agency_code(sent) == short


@pytest.mark.parametrize(("a", "b"), [
    ("UBND tỉnh An Giang", "Tỉnh An Giang"),
    ("UBND xã Đông Thái - tỉnh An Giang", "Xã Đông Thái"),
    ("Ủy ban nhân dân phường Hoà Bình", "Phường Hòa Bình"),  # old and new tone placement
    (unicodedata.normalize("NFD", "XÃ THANH THỦY"), "Xã Thanh Thuỷ"),
    ("UBND TP Hồ Chí Minh", "Thành phố Hồ Chí Minh"),
    ("UBND TP.Huế", "Thành phố Huế")])
def test_spellings_of_one_name_share_a_key(a, b) -> None:
    assert name_key(a) == name_key(b)


def test_different_names_keep_different_keys() -> None:
    assert name_key("Xã Hòa An") != name_key("Xã Hóa An")
    assert name_key("Huyện Mỹ Xuyên", keep_type=True) != name_key("Thị trấn Mỹ Xuyên",
                                                                  keep_type=True)


def _unit(code: str, name: str, level: str, parent: str | None, **extra) -> Unit:
    return Unit(unit_code=code, name_vi=name, level=level, parent_code=parent,
                stat_code=code if level != "department" else None,
                valid_from=REORGANISATION, valid_to=None, **extra)


UNITS = {u.unit_code: u for u in [
    _unit("91", "Tỉnh An Giang", "province", None),
    _unit("11", "Tỉnh Điện Biên", "province", None),
    _unit("30001", "Xã Đông Thái", "commune", "91"),
    _unit("30002", "Phường Hòa Bình", "commune", "91"),
    _unit("30003", "Xã Bình Minh", "commune", "91"),
    _unit("30004", "Phường Bình Minh", "commune", "91"),  # same name, other type
    _unit("30005", "Xã Tân An", "commune", "91"),
    _unit("30006", "Xã Tân-An", "commune", "91"),  # two spellings of one name: ambiguous
    _unit("03001", "Xã Đông Thái", "commune", "11"),  # same name in another province
]}


def matcher(**extra) -> UnitMatcher:
    return UnitMatcher(UNITS, AFTER, **extra)


def test_provinces_match_by_name_on_the_national_list() -> None:
    found = matcher().match(SourceUnit("legacy_766", "900001", "UBND tỉnh An Giang", "H01",
                                       "province", None))
    assert (found.unit_code, found.matched_by) == ("91", "name")


def test_a_commune_matches_by_name_within_its_province_only() -> None:
    m = matcher()
    found = m.match(SourceUnit("reporting", "u-1", "UBND xã Đông Thái - tỉnh An Giang",
                               "H01.5", "commune", "91"))
    assert (found.unit_code, found.matched_by) == ("30001", "name")
    found = m.match(SourceUnit("reporting", "u-2", "UBND xã Đông Thái", None, "commune", "11"))
    assert found.unit_code == "03001"


def test_a_province_suffix_without_its_type_is_dropped_but_a_dash_in_a_name_kept() -> None:
    units = {**UNITS, "30007": _unit("30007", "Phường Văn Miếu - Quốc Tử Giám", "commune",
                                     "91")}
    m = UnitMatcher(units, AFTER)
    assert m.match(SourceUnit("legacy_766", "9", "UBND xã Đông Thái - An Giang", None,
                              "commune", "91")).unit_code == "30001"
    assert m.match(SourceUnit("legacy_766", "10", "UBND phường Văn Miếu - Quốc Tử Giám",
                              None, "commune", "91")).unit_code == "30007"


def test_the_unit_type_separates_a_commune_from_a_ward_of_the_same_name() -> None:
    found = matcher().match(SourceUnit("reporting", "u-3", "UBND phường Bình Minh", None,
                                       "commune", "91"))
    assert found.unit_code == "30004"


def test_a_statistical_code_wins_over_the_name() -> None:
    found = matcher().match(SourceUnit("x", "1", "Xã Đông Thái", None, "commune", "91",
                                       stat_code="30003"))
    assert (found.unit_code, found.matched_by) == ("30003", "stat_code")


def test_an_id_of_the_same_scheme_learned_earlier_matches_a_garbled_name() -> None:
    m = matcher(known_ids={("legacy_766", "7"): "30002"})
    found = m.match(SourceUnit("legacy_766", "7", "garbled name", None, "commune", "91"))
    assert (found.unit_code, found.matched_by) == ("30002", "source_id")
    # the same number from another service says nothing
    other = m.match(SourceUnit("reporting", "7", "garbled name", None, "commune", "91"))
    assert other.problem == "unmatched"


def test_a_known_agency_code_matches_in_either_form() -> None:
    m = matcher(known_agency_codes={"H01.13.05": "30002"})
    for sent in ("H01.13.05", "000.05.13.H01"):
        found = m.match(SourceUnit("legacy_766", "7", "garbled name", sent, "commune", "91"))
        assert (found.unit_code, found.matched_by) == ("30002", "agency_code")


def test_an_ambiguous_name_is_quarantined_with_its_candidates() -> None:
    found = matcher().match(SourceUnit("reporting", "u-4", "Xã Tân An", None, "commune", "91"))
    assert found.unit_code is None and found.problem == "ambiguous"
    assert found.candidates == ("30005", "30006")


def test_an_unknown_unit_is_unmatched_with_the_reason() -> None:
    found = matcher().match(SourceUnit("reporting", "u-5", "Xã Không Có", "H01.99", "commune",
                                       "91"))
    assert found.unit_code is None and found.problem == "unmatched"
    assert "Xã Không Có" in found.reason and "H01.99" in found.reason


def test_an_override_resolves_ambiguous_and_unmatched_units(tmp_path: Path) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text("scheme,source_id,unit_code,note\n"
                    "# resolved after `reformstats units unmatched`\n"
                    "reporting,u-4,30006,the portal's Tân An is the one of the old district\n"
                    "agency_code,000.00.99.H01,30003,renamed in 2025\n", encoding="utf-8")
    overrides = read_overrides(path)
    assert overrides[1] == Override("agency_code", "H01.99", "30003", "renamed in 2025")
    m = matcher(overrides=overrides)
    assert m.match(SourceUnit("reporting", "u-4", "Xã Tân An", None, "commune",
                              "91")).unit_code == "30006"
    found = m.match(SourceUnit("legacy_766", "8", "Xã Không Có", "H01.99", "commune", "91"))
    assert (found.unit_code, found.matched_by) == ("30003", "override")


def test_an_override_naming_an_unknown_unit_is_reported() -> None:
    found = matcher(overrides=[Override("reporting", "u-5", "99999")]).match(
        SourceUnit("reporting", "u-5", "Xã Không Có", None, "commune", "91"))
    assert found.problem == "unmatched" and "99999" in found.reason


def test_departments_are_registered_under_their_province_by_agency_code() -> None:
    found = matcher().match(SourceUnit("legacy_766", "900118", "Sở Tư pháp tỉnh An Giang",
                                       "000.00.13.H01", "department", "91"))
    assert (found.unit_code, found.matched_by) == ("H01.13", "registered")
    assert found.registered is not None
    assert (found.registered.parent_code, found.registered.level, found.registered.origin) == (
        "91", "department", "portal")
    nameless = matcher().match(SourceUnit("reporting", "u-6", "Sở Y tế", None, "department",
                                          "91"))
    assert nameless.problem == "unmatched"
