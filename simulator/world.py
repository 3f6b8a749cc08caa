"""The simulated world: units' 766 scores and provinces' monthly counters, by month.

Everything is a pure function of (seed, unit, month): the same seed gives the same figures
on every machine, so tests can compare what the pipeline loaded with what the world holds.
Scores stay within each component's maximum and TONG_SCORE is their sum; monthly counters
balance (channels add up to the dossiers handled); values drift month to month.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass
from typing import Any

from domain.periods import VN_TZ, Month, Period
from domain.units import Unit, UnitRegistry
from simulator.portal_units import PortalUnit, PortalUnits

# The six 766 components as the portal shows them, with their maxima (SOURCES.md §1a);
# the simulator's own table, not the pipeline's.
COMPONENT_MAXIMA: dict[str, float] = {"CKMB": 18.0, "TDGQ": 20.0, "CLGQ": 12.0, "TTTT": 10.0,
                                      "MDHL": 18.0, "MDSH": 22.0}

# MDSH (digitisation) sub-indicators of the reporting API: code, name, max, target or None.
DIGITISATION_METRICS: list[tuple[str, str, float, float | None]] = [
    ("ORIGINAL_RESULT_AVAILABLE", "Tỷ lệ cấp kết quả điện tử", 6.0, None),
    ("SO_HOA_GIAY_TO_GIAI_QUYET", "Tỷ lệ số hóa hồ sơ", 4.0, None),
    ("REUSED_DIGITIZED_DATA", "Tỷ lệ khai thác, sử dụng lại dữ liệu số hóa", 2.0, 0.8),
    ("SYNCED_WITH_DVCQG_PERSONAL_STORAGE", "Tỷ lệ đồng bộ kho dữ liệu cá nhân", 4.0, None),
    ("CITIZEN_DATA_CONNECTED_DOSSIER", "Tỷ lệ hồ sơ sử dụng dữ liệu dân cư", 2.0, None),
    ("CITIZEN_DATA_CONNECTED_FORMALITY", "Tỷ lệ TTHC kết nối dữ liệu dân cư", 2.0, None),
    ("ELECTRONIC_CERTIFIED_COPY", "Tỷ lệ chứng thực bản sao điện tử", 2.0, None),
]


def _unit_random(seed: int, *parts: object) -> float:
    """A deterministic number in [0, 1) from the seed and any key parts."""
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, value))


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

    def __post_init__(self) -> None:
        if self.portal is None:
            self.portal = PortalUnits(self.seed)

    def _through(self) -> Month:
        if self.published_through is not None:
            return self.published_through
        today = dt.datetime.now(VN_TZ).date()
        return Month(today.year, today.month).previous()

    def is_scored(self, period: Period) -> bool:
        return period.last_month <= self._through()

    def scored_through(self, year: int) -> int | None:
        """The last month of `year` scored so far (12: the whole year), None: none yet."""
        through = self._through()
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

    # -- 766 scores ----------------------------------------------------------------------
    def _quality(self, unit: Unit, component: str, month: Month) -> float:
        base = 0.5 + 0.36 * _unit_random(self.seed, unit.unit_code, "base")
        offset = 0.12 * (_unit_random(self.seed, unit.unit_code, component) - 0.5)
        trend = 0.004 * (month.index() - Month(2025, 1).index())
        noise = 0.04 * (_unit_random(self.seed, unit.unit_code, component, str(month)) - 0.5)
        return _clamp(base + offset + trend + noise, 0.05, 1.0)

    def digitisation_metrics(self, unit: Unit, month: Month) -> list[dict[str, Any]]:
        """MDSH sub-indicators with numerator/denominator; their scores sum to MDSH."""
        quality = self._quality(unit, "MDSH", month)
        dossiers = self.dossier_volume(unit, month)
        metrics = []
        for code, name, max_score, target in DIGITISATION_METRICS:
            wobble = 0.1 * (_unit_random(self.seed, unit.unit_code, code, str(month)) - 0.5)
            ratio = _clamp(quality + wobble)
            denominator = dossiers
            numerator = round(ratio * denominator)
            if denominator == 0:
                metrics.append({"code": code, "name": name, "numerator": 0, "denominator": 0,
                                "ratio": None, "score": 0, "maxScore": max_score})
                continue
            share = numerator / denominator
            score = max_score * (min(1.0, share / target) if target else share)
            metrics.append({"code": code, "name": name, "numerator": numerator,
                            "denominator": denominator, "ratio": round(100 * share, 2),
                            "score": round(score, 2), "maxScore": max_score})
        return metrics

    def period_scores(self, unit: Unit, period: Period) -> dict[str, float]:
        """A longer period's scores: each component the mean of its months, rounded; the
        total their sum."""
        months = [self.scores(unit, m) for m in period.months]
        result = {code: round(sum(m[code] for m in months) / len(months), 2)
                  for code in COMPONENT_MAXIMA}
        result["TONG_SCORE"] = round(sum(result.values()), 2)
        return result

    def scores(self, unit: Unit, month: Month) -> dict[str, float]:
        """Component scores (each within its max) and TONG_SCORE, rounded to 2 decimals."""
        result: dict[str, float] = {}
        for code, max_score in COMPONENT_MAXIMA.items():
            if code == "MDSH":
                result[code] = round(sum(m["score"] for m in self.digitisation_metrics(
                    unit, month)), 2)
            else:
                result[code] = round(max_score * self._quality(unit, code, month), 2)
        result["TONG_SCORE"] = round(sum(result[c] for c in COMPONENT_MAXIMA), 2)
        return result

    def dossier_volume(self, unit: Unit, month: Month) -> int:
        size = {"province": 30000, "department": 900, "commune": 350}.get(unit.level, 300)
        base = size * (0.5 + _unit_random(self.seed, unit.unit_code, "size"))
        season = 1.0 + 0.15 * (_unit_random(self.seed, unit.unit_code, str(month)) - 0.5)
        return int(base * season)

    # -- monthly counters (report_by_month_sum_service) ----------------------------------
    def monthly_counters(self, province: Unit, month: Month) -> dict[str, Any]:
        r = lambda *k: _unit_random(self.seed, province.unit_code, str(month), *k)  # noqa: E731
        handled = self.dossier_volume(province, month)
        months_in = month.index() - Month(2025, 1).index()
        online_share = _clamp(0.45 + 0.01 * months_in + 0.1 * (r("online") - 0.5), 0, 0.95)
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
