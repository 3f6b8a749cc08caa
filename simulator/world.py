"""The simulated world: units' 766 scores and metrics, and provinces' monthly counters.

Everything is a pure function of (seed, unit, period): the same seed gives the same
figures on every machine, so tests can compare what the pipeline loaded with what the
world holds. Values drift month to month; monthly counters balance (channels add up to
the dossiers handled).

The 766 scores are built the way the portal builds them (INDICATORS.md, Decision 766):
each metric has a numerator and a denominator per month; a period's are the sums over
its months, and its score comes from those sums (linear: ratio × max; against a target:
min(1, ratio / target) × max), rounded to 2 decimals. A component is the sum of its
metrics' rounded scores (TDGQ: the progress tree's score; CLGQ and TTTT, whose
sub-metrics the portal does not publish: the mean of their months); TONG_SCORE is the sum
of the components. As in published figures: petition metrics with no petitions (0 / 0)
score full points; dossier-based metrics with no dossiers are not scored (ratio null,
score null for some units and 0 for others, 0 in the sums); a share of unit-months
publishes PUBLIC_CONTENT_FULL without numerator and denominator, at ratio 100 and full
points; a few communes receive nothing in some months.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from domain.periods import VN_TZ, Month, Period
from domain.units import Unit, UnitRegistry
from simulator.portal_units import PortalUnit, PortalUnits

# The six 766 components as the portal shows them, with their maxima (SOURCES.md §1a);
# the simulator's own table, not the pipeline's.
COMPONENT_MAXIMA: dict[str, float] = {"CKMB": 18.0, "TDGQ": 20.0, "CLGQ": 12.0, "TTTT": 10.0,
                                      "MDHL": 18.0, "MDSH": 22.0}


@dataclass(frozen=True)
class Metric:
    """A sub-indicator as the reporting API publishes it. `target` None: scored linearly;
    `basis`: what it counts (dossier, rating: dossiers rated, petition, procedure)."""

    code: str
    name: str
    max_score: float
    target: float | None = None
    basis: str = "dossier"


TRANSPARENCY_METRICS = (
    Metric("PUBLISH_ON_TIME", "Tỷ lệ TTHC được công bố đúng hạn", 6.0, basis="procedure"),
    Metric("PUBLIC_UPDATE_ON_TIME", "Tỷ lệ TTHC được cập nhật, công khai đúng hạn", 4.0,
           basis="procedure"),
    Metric("PUBLIC_CONTENT_FULL", "Tỷ lệ TTHC công khai đầy đủ nội dung", 2.0,
           basis="procedure"),
    Metric("DOSSIER_SYNC", "Tỷ lệ hồ sơ được đồng bộ lên Cổng DVCQG", 6.0),
)
SATISFACTION_METRICS = (
    Metric("PETITION_PROCESSING_ON_TIME", "Tỷ lệ phản ánh, kiến nghị được xử lý đúng hạn",
           6.0, basis="petition"),
    Metric("PETITION_HANDLING_SATISFACTION", "Mức độ hài lòng về xử lý phản ánh, kiến nghị",
           6.0, basis="petition"),
    Metric("DOSSIER_RECEIVING_SATISFACTION",
           "Mức độ hài lòng trong tiếp nhận, giải quyết hồ sơ", 6.0, 0.9, basis="rating"),
    Metric("PETITION_CLASSIFIED_ON_TIME", "Tỷ lệ phản ánh, kiến nghị được phân loại đúng hạn",
           0.0, basis="petition"),
    Metric("PETITION_CLASSIFICATION_ACCURACY",
           "Tỷ lệ phản ánh, kiến nghị được phân loại chính xác", 0.0, basis="petition"),
)
# MDSH (digitisation) sub-indicators of the reporting API.
DIGITISATION_METRICS = (
    Metric("ORIGINAL_RESULT_AVAILABLE", "Tỷ lệ cấp kết quả điện tử", 6.0),
    Metric("SO_HOA_GIAY_TO_GIAI_QUYET", "Tỷ lệ số hóa hồ sơ", 4.0),
    Metric("REUSED_DIGITIZED_DATA", "Tỷ lệ khai thác, sử dụng lại dữ liệu số hóa", 2.0, 0.8),
    Metric("SYNCED_WITH_DVCQG_PERSONAL_STORAGE", "Tỷ lệ đồng bộ kho dữ liệu cá nhân", 4.0),
    Metric("CITIZEN_DATA_CONNECTED_DOSSIER", "Tỷ lệ hồ sơ sử dụng dữ liệu dân cư", 2.0),
    Metric("CITIZEN_DATA_CONNECTED_FORMALITY", "Tỷ lệ TTHC kết nối dữ liệu dân cư", 2.0),
    Metric("ELECTRONIC_CERTIFIED_COPY", "Tỷ lệ chứng thực bản sao điện tử", 2.0),
)
# The reporting API's metric groups: group -> (component, its metrics).
METRIC_GROUPS: dict[str, tuple[str, tuple[Metric, ...]]] = {
    "transparency": ("CKMB", TRANSPARENCY_METRICS),
    "handling-satisfaction": ("MDHL", SATISFACTION_METRICS),
    "dossier-digitized": ("MDSH", DIGITISATION_METRICS),
}
# Its tree groups: group -> component. Only TDGQ is published with the totals it is
# computed from; CLGQ and TTTT come from sub-metrics the portal does not publish.
TREE_GROUPS: dict[str, str] = {"dvc-progress-tree": "TDGQ", "provide-online-tree": "CLGQ",
                               "formality-online-payment-tree": "TTTT"}
PROGRESS = Metric("DVC_PROGRESS", "Tiến độ giải quyết hồ sơ", 20.0)
# Published without numerator and denominator (ratio 100, full points) in ~5% of unit-months.
SOMETIMES_UNCOUNTED = "PUBLIC_CONTENT_FULL"

Counts = tuple[int, int]
# When the real portal moved the 766 scores to the reporting API (SOURCES.md: "a backfill
# before about March 2026 must use the legacy gateway").
REPORTING_FROM = Month(2026, 3)


def _unit_random(seed: int, *parts: object) -> float:
    """A deterministic number in [0, 1) from the seed and any key parts."""
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, value))


def _percent(part: float, whole: float) -> float | None:
    """part / whole in percent, rounded to 2 decimals; None when whole is 0."""
    return round(100 * part / whole, 2) if whole else None


def _period(period: Period | Month) -> Period:
    return Period.of_month(period) if isinstance(period, Month) else period


@dataclass
class NationalPortalWorld:
    """`portal` holds the units the portal lists, with its own IDs and agency codes;
    `registry` the pipeline's configuration, for the IDs no portal list carries (the
    monthly-counter service's province IDs) and the one-stop systems' agencies."""

    registry: UnitRegistry
    seed: int = 766
    portal: PortalUnits | None = None
    # The last month the portal has scored ("now", for year-to-date answers); None: every
    # month up to last month in Vietnam's time.
    published_through: Month | None = None
    # The 766 scores' cut-over from the legacy gateway to the reporting API: a period ending
    # before it is served by the gateway only, one ending with it or later by the API only.
    reporting_from: Month = REPORTING_FROM
    # Revised months: while a month is the last one scored, its dossier-based figures are
    # preliminary (late syncs missing, ~1.5% fewer dossiers); scored again once a later
    # month is, they are final. Off by default (tests compare with fixed figures).
    revisions: bool = False
    # A unit-month's counts, computed once (pure, so threads may race harmlessly).
    _counts: dict[tuple[str, dt.date, int, bool], dict[str, Counts | None]] = field(
        default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.portal is None:
            self.portal = PortalUnits(self.seed)

    def latest_scored(self) -> Month:
        if self.published_through is not None:
            return self.published_through
        today = dt.datetime.now(VN_TZ).date()
        return Month(today.year, today.month).previous()

    def preliminary(self, month: Month) -> bool:
        """Whether the month's figures are the first, preliminary ones (with revisions on:
        while it is the last month scored)."""
        return self.revisions and month == self.latest_scored()

    def is_scored(self, period: Period) -> bool:
        return period.last_month <= self.latest_scored()

    def scored_through(self, year: int) -> int | None:
        """The last month of `year` scored so far (12: the whole year), None: none yet."""
        through = self.latest_scored()
        if through.year > year:
            return 12
        return through.month if through.year == year else None

    # -- units ---------------------------------------------------------------------------
    def provinces(self, period: Period | Month) -> list[PortalUnit]:
        """The national list: the provinces as they are on the period's last day."""
        return self.portal.provinces(period.last_day)

    def children(self, province: PortalUnit, period: Period | Month) -> list[PortalUnit]:
        return self.portal.children(province, period.last_day)

    def monthly_sum_id(self, province: PortalUnit, month: Month) -> str | None:
        """report_by_month_sum_service's ID for a province (configured, as in real life)."""
        try:
            return self.registry.source_id("legacy_tinh", province.unit.unit_code,
                                           month.first_day)
        except KeyError:
            return None

    # -- a unit-month's counts -----------------------------------------------------------
    def _quality(self, unit: Unit, component: str, month: Month) -> float:
        base = 0.5 + 0.36 * _unit_random(self.seed, unit.unit_code, "base")
        offset = 0.12 * (_unit_random(self.seed, unit.unit_code, component) - 0.5)
        trend = 0.004 * (month.index() - Month(2025, 1).index())
        noise = 0.04 * (_unit_random(self.seed, unit.unit_code, component, str(month)) - 0.5)
        return _clamp(base + offset + trend + noise, 0.05, 1.0)

    def _denominator(self, unit: Unit, month: Month, metric: Metric) -> int:
        """What a metric counts in a month: dossiers, dossiers rated, petitions (often none
        at a commune), procedures announced or connected (at least one)."""
        r = _unit_random(self.seed, unit.unit_code, str(month), metric.code, "count")
        if metric.basis == "dossier":
            return self.dossier_volume(unit, month)
        if metric.basis == "rating":
            return int(self.dossier_volume(unit, month) * (0.2 + 0.3 * r))
        if metric.basis == "petition":
            return {"province": 30 + int(200 * r), "department": int(12 * r)}.get(
                unit.level, max(0, int(5 * r) - 1))
        return {"province": 20 + int(60 * r), "department": 3 + int(25 * r)}.get(
            unit.level, 1 + int(10 * r))

    def _month_counts(self, unit: Unit, month: Month) -> dict[str, Counts | None]:
        """(numerator, denominator) of every metric, and of the trees' totals (keyed by
        component), in one month; None: published without them."""
        key = (unit.unit_code, unit.valid_from, month.index(), self.preliminary(month))
        cached = self._counts.get(key)
        if cached is not None:
            return cached
        counts: dict[str, Counts | None] = {}
        for component, metrics in METRIC_GROUPS.values():
            quality = self._quality(unit, component, month)
            for metric in metrics:
                if metric.code == SOMETIMES_UNCOUNTED and _unit_random(
                        self.seed, unit.unit_code, str(month), "uncounted") < 0.05:
                    counts[metric.code] = None
                    continue
                wobble = 0.1 * (_unit_random(self.seed, unit.unit_code, metric.code,
                                             str(month)) - 0.5)
                denominator = self._denominator(unit, month, metric)
                counts[metric.code] = (round(_clamp(quality + wobble) * denominator),
                                       denominator)
        dossiers = self.dossier_volume(unit, month)
        counts["TDGQ"] = (round(self._quality(unit, "TDGQ", month) * dossiers), dossiers)
        online = _clamp(0.3 + 0.5 * _unit_random(self.seed, unit.unit_code, str(month),
                                                 "online"))
        counts["CLGQ"] = (round(online * dossiers), dossiers)
        self._counts[key] = counts
        return counts

    def _summed(self, unit: Unit, period: Period, code: str) -> Counts | None:
        """A metric's numerator and denominator over the period's months (None: not
        counted in any of them)."""
        counts = [c for m in period.months
                  if (c := self._month_counts(unit, m)[code]) is not None]
        if not counts:
            return None
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def _scored(self, metric: Metric, counts: Counts | None, unit: Unit,
                period: Period) -> tuple[float | None, float | None]:
        """(ratio in percent, score) as the portal publishes them, from unrounded counts."""
        if counts is None:  # published without numerator and denominator
            return 100.0, metric.max_score
        numerator, denominator = counts
        if denominator == 0:
            if metric.basis == "petition":  # no petitions: full points
                return None, metric.max_score
            # no dossiers: not scored; real answers send null for some units, 0 for others
            unscored_null = _unit_random(self.seed, unit.unit_code, str(period), "null") < 0.5
            return None, None if unscored_null else 0.0
        share = numerator / denominator
        points = metric.max_score * (min(1.0, share / metric.target) if metric.target
                                     else share)
        return _percent(numerator, denominator), round(points, 2)

    # -- what the reporting API publishes ------------------------------------------------
    def metrics(self, group: str, unit: Unit, period: Period | Month) -> list[dict[str, Any]]:
        """A metric group's metrics for a period (`code, name, numerator, denominator,
        ratio, score, maxScore`): counts summed over its months, scored from the sums."""
        period = _period(period)
        out = []
        for metric in METRIC_GROUPS[group][1]:
            counts = self._summed(unit, period, metric.code)
            ratio, score = self._scored(metric, counts, unit, period)
            out.append({"code": metric.code, "name": metric.name,
                        "numerator": counts[0] if counts else None,
                        "denominator": counts[1] if counts else None,
                        "ratio": ratio, "score": score, "maxScore": metric.max_score})
        return out

    def tree_figures(self, group: str, unit: Unit, period: Period | Month) -> dict[str, Any]:
        """A tree group's figures for a unit (`totalReceived, totalOnTime, totalOverdue,
        avgProcessingDays, ratio, score, maxScore`). The progress tree (TDGQ) scores its
        totals linearly; the online-service tree's totals (dossiers, online) are not what
        its score comes from; the online-payment tree publishes only its score."""
        period = _period(period)
        component = TREE_GROUPS[group]
        max_score = COMPONENT_MAXIMA[component]
        figures: dict[str, Any] = {"totalReceived": None, "totalOnTime": None,
                                   "totalOverdue": None, "avgProcessingDays": None,
                                   "ratio": None, "score": None, "maxScore": max_score}
        if component == "TTTT":
            score = self._mean_of_months(unit, component, period)
            return {**figures, "ratio": _percent(score, max_score), "score": score}
        on_time, received = self._summed(unit, period, component) or (0, 0)
        figures.update(totalReceived=received, totalOnTime=on_time,
                       ratio=_percent(on_time, received))
        if component == "CLGQ":
            return {**figures, "score": self._mean_of_months(unit, component, period)}
        days = sum(self._month_counts(unit, m)["TDGQ"][1] * (2 + 8 * _unit_random(
            self.seed, unit.unit_code, str(m), "days")) for m in period.months)
        return {**figures, "totalOverdue": received - on_time,
                "avgProcessingDays": round(days / received, 1) if received else None,
                "score": self._scored(PROGRESS, (on_time, received), unit, period)[1]}

    def _mean_of_months(self, unit: Unit, component: str, period: Period) -> float:
        monthly = [round(COMPONENT_MAXIMA[component] * self._quality(unit, component, m), 2)
                   for m in period.months]
        return round(sum(monthly) / len(monthly), 2)

    def period_scores(self, unit: Unit, period: Period | Month) -> dict[str, float]:
        """Component scores (each within its max) and TONG_SCORE, rounded to 2 decimals: a
        component the sum of its metrics' scores (null as 0), TDGQ the progress tree's
        score (0 when not scored), CLGQ and TTTT the mean of their months."""
        period = _period(period)
        result = {component: round(sum(m["score"] or 0.0 for m in self.metrics(
            group, unit, period)), 2) for group, (component, _) in METRIC_GROUPS.items()}
        for group, component in TREE_GROUPS.items():
            result[component] = self.tree_figures(group, unit, period)["score"] or 0.0
        scores = {code: result[code] for code in COMPONENT_MAXIMA}
        scores["TONG_SCORE"] = round(sum(scores.values()), 2)
        return scores

    def scores(self, unit: Unit, month: Month) -> dict[str, float]:
        """A month's component scores and TONG_SCORE (see `period_scores`)."""
        return self.period_scores(unit, Period.of_month(month))

    def dossier_volume(self, unit: Unit, month: Month) -> int:
        """Dossiers a unit received in a month; a few communes receive none in some months."""
        if unit.level == "commune" and _unit_random(self.seed, unit.unit_code, str(month),
                                                    "idle") < 0.03:
            return 0
        size = {"province": 30000, "department": 900, "commune": 350}.get(unit.level, 300)
        base = size * (0.5 + _unit_random(self.seed, unit.unit_code, "size"))
        season = 1.0 + 0.15 * (_unit_random(self.seed, unit.unit_code, str(month)) - 0.5)
        return int(base * season * (0.985 if self.preliminary(month) else 1.0))

    # -- monthly counters (report_by_month_sum_service) ----------------------------------
    def monthly_counters(self, province: Unit, month: Month) -> dict[str, Any]:
        r = lambda *k: _unit_random(self.seed, province.unit_code, str(month), *k)  # noqa: E731
        handled = self.dossier_volume(province, month)
        months_in = month.index() - Month(2025, 1).index()
        slope = 0.01 if months_in >= 0 else 0.005  # slower before 2025: ~9% in 2019
        online_share = _clamp(0.45 + slope * months_in + 0.1 * (r("online") - 0.5), 0.02, 0.95)
        postal = int(handled * (0.005 + 0.01 * r("postal")))
        nonstandard = int(handled * 0.006 * r("nonstd"))
        online = int(handled * online_share)
        in_person = handled - postal - nonstandard - online
        resolved = int(handled * (0.88 + 0.06 * r("resolved")))
        returned_late = int(resolved * 0.03 * r("late"))
        processed = int(handled * (0.9 + 0.05 * r("processed")))
        processed_late = int(processed * 0.03 * r("plate"))
        synced = handled - int(handled * 0.01 * r("sync"))
        paid_total = int(handled * (0.1 + 0.1 * r("paid")))
        paid_national = int(paid_total * (0.6 + 0.3 * r("paidqg")))
        petitions = int(50 + 2000 * r("petitions"))
        petitions_handled = int(petitions * 0.03)
        petitions_late = int(petitions_handled * 0.1 * r("plate2"))

        def pct(part: int, whole: int) -> float:
            return round(100 * part / whole, 1) if whole else 0.0

        return {
            "HS_TOTAL": handled, "DB_TOTAL": synced, "TNTK_TOTAL": int(handled * 0.07),
            "TILE": pct(processed - processed_late, processed), "TILE_DB": pct(synced, handled),
            "TNKTCS_TOTAL": int(handled * 0.003),
            "HTN_TRUCTIEP": pct(in_person, handled), "HTN_TRUCTIEP_TOTAL": in_person,
            "HTN_BUUCHINH": pct(postal, handled), "HTN_BUUCHINH_TOTAL": postal,
            "HTN_TRUCTUYEN": pct(online, handled), "HTN_TRUCTUYEN_TOTAL": online,
            "HTN_TRUCTUYEN_KHONGCHUAN": pct(nonstandard, handled),
            "HTN_TRUCTUYEN_KHONGCHUAN_TOTAL": nonstandard,
            "HTDH": pct(resolved - returned_late, resolved),
            "HTDH_TOTAL": resolved - returned_late,
            "HTQH": pct(returned_late, resolved), "HTQH_TOTAL": returned_late,
            "DXLTH": pct(processed - processed_late, processed),
            "DXLTH_TOTAL": processed - processed_late,
            "DXLQH": pct(processed_late, processed), "DXLQH_TOTAL": processed_late,
            "GDTTDP": pct(paid_total - paid_national, paid_total),
            "GDTTQG": pct(paid_national, paid_total), "GDTTQG_TOTAL": paid_national,
            "GDTT_TOTAL": paid_total, "NTTQG_TOTAL": petitions,
            "NTTDXLTH": pct(petitions_handled - petitions_late, petitions_handled),
            "NTTDXLTH_TOTAL": petitions_handled - petitions_late,
            "NTTDXLQH": pct(petitions_late, petitions_handled),
            "NTTDXLQH_TOTAL": petitions_late,
        }

    # -- presentation quirks real sources have -------------------------------------------
    def display_name(self, unit: Unit, period: Period | Month, name: str | None = None) -> str:
        """Some answers send names decomposed (NFD), as some real systems do."""
        name = name or unit.name_vi
        if _unit_random(self.seed, unit.unit_code, str(period), "nfd") < 0.2:
            return unicodedata.normalize("NFD", name)
        return name

    def as_text(self, unit: Unit, period: Period | Month, field: str) -> bool:
        """Whether an answer sends this number as a string (real gateways mix them)."""
        return _unit_random(self.seed, unit.unit_code, str(period), field, "str") < 0.3

    def omits_field(self, unit: Unit, period: Period | Month, field: str) -> bool:
        """Whether an answer leaves out a field it has no value for instead of sending null."""
        return _unit_random(self.seed, unit.unit_code, str(period), field, "omit") < 0.5
