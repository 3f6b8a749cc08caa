"""Scoring methods, rule-set checks, classification and ranking, against hand-computed
points (each expected value is worked out in the comment or the name beside it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from marts.methods import Input, computed_points, manual_points, round_half_up
from marts.rulesets import RuleSetError, load_rule_sets, parse_band
from marts.scoring import (
    Metric,
    UnitInputs,
    competition_ranks,
    gaps_beyond,
    metric_input,
    reconcile_766,
    score_period,
)

INDICATORS = {"on_time_rate", "online_intake_rate"}

HEADER = """\
scheme: {scheme}
version: "{version}"
name_vi: Bộ thử
name_en: Test set
level: commune
provinces: all
valid_from: {valid_from}
valid_to: {valid_to}
period_types: [month, year]
max_points: {max_points}
classification:
  - {{code: A, name_vi: Nhóm A, name_en: Group A, min_percent: 90}}
  - {{code: B, name_vi: Nhóm B, name_en: Group B, min_percent: 80}}
fields:
"""

# One field, one criterion, five leaves: 2 + 2 + 2 + 2 + 2 = 10 points.
FIELDS = """\
  - code: "1"
    name_vi: Lĩnh vực 1
    name_en: Field 1
    max_points: 10
    criteria:
      - code: "1.1"
        name_vi: Tiêu chí 1.1
        name_en: Criterion 1.1
        max_points: 10
        sub_criteria:
          - {code: "1.1.1", name_vi: a, name_en: a, max_points: 2,
             source: {indicator: on_time_rate}, method: linear}
          - {code: "1.1.2", name_vi: b, name_en: b, max_points: 2,
             source: {indicator: online_intake_rate}, method: target_linear, target: 0.8}
          - {code: "1.1.3", name_vi: c, name_en: c, max_points: 2,
             source: {indicator: on_time_rate}, method: bands,
             bands: {"[1, 1]": 2, "[0.95, 1)": 1, "[0, 0.95)": 0}}
          - {code: "1.1.4", name_vi: d, name_en: d, max_points: 2,
             source: {indicator: on_time_rate}, method: boolean, at_least: 0.98}
          - {code: "1.1.5", name_vi: e, name_en: e, max_points: 2,
             source: manual, method: manual}
"""


def write_set(root: Path, scheme: str = "test_set", version: str = "2025",
              valid_from: str = "2025-01-01", valid_to: str = "null", max_points: float = 10,
              fields: str = FIELDS) -> Path:
    path = root / scheme / f"{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER.format(scheme=scheme, version=version, valid_from=valid_from,
                                  valid_to=valid_to, max_points=max_points) + fields,
                    encoding="utf-8")
    return path


@pytest.fixture()
def rule_set(tmp_path: Path):
    write_set(tmp_path)
    return load_rule_sets(tmp_path, INDICATORS).sets[0]


def leaf(rule_set, code: str):
    return rule_set.by_code[code]


# -- methods -----------------------------------------------------------------------------
def test_linear_is_ratio_times_max_rounded_half_up(rule_set) -> None:
    # The portal's own figure: 91.49 % of max 4 scores 3.66 (0.9149 * 4 = 3.6596).
    four = leaf(rule_set, "1.1.1").__class__(**{**leaf(rule_set, "1.1.1").__dict__,
                                                "max_points": 4.0})
    assert computed_points(four, Input(0.9149)).points == 3.66
    # 3 of 4 on time: 0.75 * 2 = 1.5
    assert computed_points(leaf(rule_set, "1.1.1"), Input.ratio(3, 4)).points == 1.5


def test_target_linear_below_at_and_above_the_target(rule_set) -> None:
    criterion = leaf(rule_set, "1.1.2")  # max 2, target 0.8
    # The portal's own figure: 58.94 % against 80 %: 0.5894 / 0.8 * 2 = 1.4735 -> 1.47
    assert computed_points(criterion, Input(0.5894)).points == 1.47
    assert computed_points(criterion, Input.ratio(4, 5)).points == 2.0  # exactly at target
    assert computed_points(criterion, Input.ratio(9, 10)).points == 2.0  # above it
    # 79 of 100: 0.79 / 0.8 * 2 = 1.975 -> 1.98 (half up)
    assert computed_points(criterion, Input.ratio(79, 100)).points == 1.98


def test_bands_at_each_edge(rule_set) -> None:
    criterion = leaf(rule_set, "1.1.3")  # [1,1] -> 2, [0.95,1) -> 1, [0,0.95) -> 0
    assert computed_points(criterion, Input.ratio(20, 20)).points == 2
    assert computed_points(criterion, Input.ratio(19, 20)).points == 1  # exactly 95 %
    assert computed_points(criterion, Input.ratio(199, 200)).points == 1  # 99.5 %
    assert computed_points(criterion, Input.ratio(1899, 2000)).points == 0  # 94.95 %
    assert computed_points(criterion, Input.ratio(0, 7)).points == 0  # exactly 0


def test_boolean_at_the_threshold(rule_set) -> None:
    criterion = leaf(rule_set, "1.1.4")  # max 2 at >= 0.98
    assert computed_points(criterion, Input.ratio(49, 50)).points == 2  # exactly 98 %
    assert computed_points(criterion, Input.ratio(97, 100)).points == 0


def test_zero_denominator_is_not_scored_by_default_and_full_when_the_rule_says(
        rule_set) -> None:
    criterion = leaf(rule_set, "1.1.1")
    result = computed_points(criterion, Input.ratio(0, 0))
    assert (result.points, result.note) == (0.0, "zero denominator: not scored")
    petition = criterion.__class__(**{**criterion.__dict__, "zero_denominator": "full"})
    assert computed_points(petition, Input.ratio(0, 0)).points == 2.0
    assert Input.ratio(0, 0).value is None  # never 0 and never 100 %


def test_no_input_scores_zero_with_a_note(rule_set) -> None:
    result = computed_points(leaf(rule_set, "1.1.1"), Input(None))
    assert (result.points, result.note) == (0.0, "no input")
    assert manual_points(leaf(rule_set, "1.1.5"), None).note == "not entered"
    assert manual_points(leaf(rule_set, "1.1.5"), 1.25).points == 1.25


def test_products_are_rounded_half_up_exactly(rule_set) -> None:
    target = leaf(rule_set, "1.1.2")  # max 2, target 0.8
    # 3 of 20 = 0.15: 0.15 / 0.8 * 2 = 0.375 exactly -> 0.38 (floats give 0.37499...)
    assert computed_points(target, Input.ratio(3, 20)).points == 0.38
    linear = leaf(rule_set, "1.1.1").__class__(**{**leaf(rule_set, "1.1.1").__dict__,
                                                  "max_points": 1.5})
    # 19 of 20 = 0.95: 0.95 * 1.5 = 1.425 exactly -> 1.43 (floats give 1.42)
    assert computed_points(linear, Input.ratio(19, 20)).points == 1.43


def test_a_published_score_at_a_band_edge_is_at_the_edge(rule_set) -> None:
    # CKMB 16.2 of 18 is exactly 90 % (16.2 / 18 in floats is 0.8999999999999999)
    bands = leaf(rule_set, "1.1.3").__class__(**{
        **leaf(rule_set, "1.1.3").__dict__,
        "bands": (parse_band("[0.9, 1]", 2), parse_band("[0, 0.9)", 0))})
    assert computed_points(bands, Input.part_of(16.2, 18)).points == 2
    boolean = leaf(rule_set, "1.1.4").__class__(**{**leaf(rule_set, "1.1.4").__dict__,
                                                   "at_least": 0.9})
    assert computed_points(boolean, Input.part_of(16.2, 18)).points == 2


def test_rounding_is_half_up_not_to_even() -> None:
    assert round_half_up(2.345, 2) == 2.35  # round() gives 2.35 or 2.34 by float luck
    assert round_half_up(0.125, 2) == 0.13  # round(0.125, 2) == 0.12
    assert round_half_up(1.4735, 2) == 1.47


# -- the 766's published behaviours --------------------------------------------------------
def test_metric_inputs_follow_the_published_behaviours() -> None:
    # numerator / denominator where the denominator is positive
    assert metric_input(Metric(412, 430, 95.81, 5.75)).value == pytest.approx(412 / 430)
    # published without numerator and denominator at ratio 100: full points
    assert metric_input(Metric(None, None, 100, 2)).value == 1.0
    # 0 / 0 without a ratio: a zero denominator, for the rule to decide
    assert metric_input(Metric(0, 0, None, 0)).zero_denominator
    # 0 / 0 is a zero denominator whatever ratio came with it (empty strings arrive as 0)
    assert metric_input(Metric(0, 0, 100, 6)).zero_denominator
    assert metric_input(None).value is None


def test_766_reconciliation_recomputes_metrics_components_and_total() -> None:
    rules = load_rule_sets(Path("config/schemes"), INDICATORS | {
        "postal_return_rate", "digitised_inputs_rate", "digitised_results_rate",
        "e_result_rate", "online_payment_rate", "portal_sync_rate",
        "on_time_rate_with_in_progress"}, files=sorted(Path("config/schemes/766").glob(
            "*.yaml")))
    v2026 = rules.in_force("766", dt.date(2026, 3, 31))
    assert v2026 is not None and v2026.version == "2026"
    metrics = {
        # CKMB: 6 * 50/50 = 6; 4 * 3/4 = 3; ratio 100 without counts: 2; 6 * 90/100 = 5.4
        "PUBLISH_ON_TIME": Metric(50, 50, 100, 6), "PUBLIC_UPDATE_ON_TIME": Metric(3, 4, 75, 3),
        "PUBLIC_CONTENT_FULL": Metric(None, None, 100, 2),
        "DOSSIER_SYNC": Metric(90, 100, 90, 5.4),
        # TDGQ: 20 * 87/100 = 17.4
        "DVC_PROGRESS": Metric(87, 100, 87, 17.4),
        # MDHL: petitions 0/0: full 6 + 6; satisfaction 81/100 < 0.9: 0.81/0.9*6 = 5.4
        "PETITION_PROCESSING_ON_TIME": Metric(0, 0, None, 6),
        "PETITION_HANDLING_SATISFACTION": Metric(0, 0, None, 6),
        "DOSSIER_RECEIVING_SATISFACTION": Metric(81, 100, 81, 5.4),
        # MDSH: dossier-based 0/0: not scored (0); the rest nothing published
        "ORIGINAL_RESULT_AVAILABLE": Metric(0, 0, None, None),
        # a metric the rule set does not know: listed, not recomputed, not in the sums
        "NEW_METRIC_2027": Metric(1, 2, 50, 1.0),
    }
    unit = UnitInputs("10001", "commune", "01", metrics=metrics,
                      components={"CKMB": 16.4, "TDGQ": 17.4, "CLGQ": 9.0, "TTTT": 7.0,
                                  "MDHL": 17.4, "MDSH": 0.0},
                      total=67.2)
    maxima = {c.code: c.max_points for c in v2026.criteria if c.kind == "field"}
    scores, results = score_period(v2026, [unit], 202603, maxima)
    by_code = {r["criterion_code"]: r["points"] for r in scores}
    assert by_code["PUBLIC_CONTENT_FULL"] == 2.0
    assert by_code["PETITION_PROCESSING_ON_TIME"] == 6.0
    assert by_code["DOSSIER_RECEIVING_SATISFACTION"] == 5.4
    assert by_code["ORIGINAL_RESULT_AVAILABLE"] == 0.0
    assert by_code["CLGQ.published"] == 9.0  # taken as published
    assert results[0]["total_points"] == 67.2 and results[0]["ranked_by"] == "published"
    rows = {(r["level"], r["code"]): r for r in reconcile_766(v2026, unit, scores, 202603)}
    assert rows[("component", "CKMB")]["recomputed"] == 16.4  # 6 + 3 + 2 + 5.4
    assert rows[("component", "CKMB")]["gap"] == 0.0
    assert rows[("component", "MDHL")]["recomputed"] == 17.4  # 6 + 6 + 5.4 (+ 0 tracked)
    assert rows[("component", "CLGQ")]["recomputed"] is None  # not published
    # MDSH: six of its seven metrics have nothing published: not recomputable
    assert rows[("component", "MDSH")]["inputs"] == "none"
    assert rows[("metric", "NEW_METRIC_2027")]["recomputed"] is None
    total = rows[("total", "TOTAL")]
    # 16.4 + 17.4 + 9.0 (published) + 7.0 (published) + 17.4 + 0.0 (published) = 67.2
    assert (total["recomputed"], total["inputs"], total["gap"]) == (67.2, "partial", 0.0)
    assert gaps_beyond(rows.values()) == []


# -- ranking and classification ------------------------------------------------------------
def test_ties_share_a_rank() -> None:
    assert competition_ranks([90.0, 85.5, 85.5, 80.0]) == [1, 2, 2, 4]
    assert competition_ranks([70.0, 70.0, 70.0]) == [1, 1, 1]
    assert competition_ranks([]) == []


def test_classes_follow_the_par_index_2024_cut_offs(rule_set) -> None:
    # Decision 268/QĐ-BNV: group A from 90 %, group B from 80 % to under 90 %.
    assert rule_set.classify(96.17).code == "A"  # the top province
    assert rule_set.classify(90.0).code == "A"  # exactly at the cut-off
    assert rule_set.classify(89.99).code == "B"
    assert rule_set.classify(88.37).code == "B"  # the national average
    assert rule_set.classify(80.0).code == "B"
    assert rule_set.classify(79.99) is None


def test_results_rank_peers_within_province_and_level(rule_set) -> None:
    def commune(code: str, province: str, on_time: tuple[int, int],
                manual: float) -> UnitInputs:
        return UnitInputs(code, "commune", province,
                          indicators={"on_time_rate": on_time, "online_intake_rate": (8, 10)},
                          manual={"1.1.5": (manual, "appraisal_1")})

    # on time 20/20: linear 2, bands 2, boolean 2; online 0.8 at target: 2 -> 8 + manual
    # on time 19/20: linear 1.9, bands 1, boolean 0 (0.95 < 0.98); online 2 -> 4.9 + manual
    units = [commune("A1", "01", (20, 20), 1.0), commune("A2", "01", (19, 20), 2.0),
             commune("A3", "01", (20, 20), 1.0), commune("B1", "04", (19, 20), 0.0)]
    _, results = score_period(rule_set, units, 202600, {})
    got = {r["unit_code"]: (r["total_points"], r["percent"], r["class_code"], r["peer_rank"],
                            r["peer_count"]) for r in results}
    assert got == {"A1": (9.0, 90.0, "A", 1, 3), "A3": (9.0, 90.0, "A", 1, 3),
                   "A2": (6.9, 69.0, None, 3, 3), "B1": (4.9, 49.0, None, 1, 1)}


# -- rule-set checks -------------------------------------------------------------------------
def problems_of(root: Path) -> list[str]:
    with pytest.raises(RuleSetError) as caught:
        load_rule_sets(root, INDICATORS)
    return caught.value.problems


def test_points_that_do_not_add_up_name_file_line_and_criterion(tmp_path: Path) -> None:
    path = write_set(tmp_path, fields=FIELDS.replace("max_points: 10\n        sub",
                                                     "max_points: 9\n        sub"))
    problems = problems_of(tmp_path)
    # line 20: "- code: \"1.1\"" (14 header lines, 5 of the field)
    assert any(p.startswith(f"{path}:20:") and "criterion 1.1:" in p and "add up to 10" in p
               for p in problems), problems


def test_an_unknown_indicator_is_named(tmp_path: Path) -> None:
    path = write_set(tmp_path, fields=FIELDS.replace("indicator: online_intake_rate",
                                                     "indicator: online_rate"))
    problems = problems_of(tmp_path)
    assert any(str(path) in p and "sub-criterion 1.1.2" in p and "'online_rate'" in p
               for p in problems), problems


@pytest.mark.parametrize(("bands", "message"), [
    ('{"[1, 1]": 2, "[0.96, 1)": 1, "[0, 0.95)": 0}', "gap between [0, 0.95) and [0.96, 1)"),
    ('{"[1, 1]": 2, "[0.9, 1)": 1, "[0, 0.95)": 0}', "overlap"),
    ('{"[0.95, 1)": 1, "[0, 0.95)": 0}', "gap at 1"),
    ('{"[1, 1]": 2, "(0, 1)": 1}', "gap at 0"),
    ('{"[1, 1]": 2, "[0.95, 1)": 1, "[0, 0.95]": 0}', "overlap"),
    ('{"[1, 1]": 3, "[0, 1)": 0}', "above max_points"),
])
def test_bands_must_cover_zero_to_one_once(tmp_path: Path, bands: str, message: str) -> None:
    write_set(tmp_path, fields=FIELDS.replace(
        '{"[1, 1]": 2, "[0.95, 1)": 1, "[0, 0.95)": 0}', bands))
    problems = problems_of(tmp_path)
    assert any("sub-criterion 1.1.3" in p and message in p for p in problems), problems


def test_versions_of_a_scheme_must_not_overlap(tmp_path: Path) -> None:
    write_set(tmp_path, version="2025", valid_from="2025-01-01", valid_to="2026-02-01")
    write_set(tmp_path, version="2026", valid_from="2026-01-01")
    problems = problems_of(tmp_path)
    assert any("versions 2025 and 2026 of test_set are both in force on 2026-01-01" in p
               for p in problems), problems


def test_an_unknown_key_and_a_misplaced_file_are_reported(tmp_path: Path) -> None:
    path = write_set(tmp_path, fields=FIELDS.replace("method: linear}",
                                                     "method: linear, maxpoints: 2}"))
    path.rename(tmp_path / "test_set" / "2024.yaml")
    problems = problems_of(tmp_path)
    assert any("unknown key 'maxpoints'" in p for p in problems), problems
    assert any("must live in" in p for p in problems), problems


def test_a_new_version_from_a_new_year_scores_that_year_only(tmp_path: Path) -> None:
    write_set(tmp_path, version="2025", valid_from="2025-01-01", valid_to="2026-01-01")
    write_set(tmp_path, version="2026", valid_from="2026-01-01")
    rules = load_rule_sets(tmp_path, INDICATORS)
    assert rules.in_force("test_set", dt.date(2025, 12, 31)).version == "2025"
    assert rules.in_force("test_set", dt.date(2026, 1, 31)).version == "2026"
    assert rules.in_force("test_set", dt.date(2024, 12, 31)) is None


def test_band_text_is_read_with_its_ends() -> None:
    band = parse_band("[0.95, 1)", 1)
    assert (band.low, band.high, band.low_inclusive, band.high_inclusive) == (0.95, 1, True,
                                                                               False)
    with pytest.raises(ValueError, match="write"):
        parse_band("95-100", 1)


def test_the_shipped_rule_sets_pass() -> None:
    from registry.settings import Settings
    from steps.scoring import rule_sets

    sets = rule_sets(Settings.from_env())
    assert {"766"} <= set(sets.schemes())


@pytest.mark.parametrize(("old", "new", "message"), [
    ("max_points: 10\n    criteria:", "max_points: 10\n    max_points: 9\n    criteria:",
     "key 'max_points' given twice"),
    ("provinces: all", "provinces: [01, 91]", "quoted 2-digit"),
    ("period_types: [month, year]", "period_types: []", "at least one period type"),
    ('"[0, 0.95)": 0}', '"[0, 0.95)": -1}', "negative points"),
    ("provinces: all", "provinces: all\nrank_by: portal_total", "only the 766's"),
    ('code: "1.1.5"', 'code: "' + "x" * 65 + '"', "at most 64 characters"),
])
def test_rule_set_mistakes_that_would_pass_silently_are_reported(
        tmp_path: Path, old: str, new: str, message: str) -> None:
    path = write_set(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    problems = problems_of(tmp_path)
    assert any(message in p for p in problems), problems


def test_code_limits_are_the_warehouse_columns() -> None:
    from marts.rulesets import CODE_LIMIT, SCHEME_LIMIT, VERSION_LIMIT
    from warehouse.schema import dim_criterion, dim_scheme

    assert dim_criterion.c.criterion_code.type.length == CODE_LIMIT
    assert dim_criterion.c.parent_code.type.length == CODE_LIMIT
    assert dim_scheme.c.scheme.type.length == SCHEME_LIMIT
    assert dim_scheme.c.version.type.length == VERSION_LIMIT
