"""The scorecard's configuration (config/reports.yaml) and its labels (reports/labels.yaml):
data, read once, checked on load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from domain.periods import PERIOD_TYPES
from reports.tables import LANGUAGES

LABELS_FILE = Path(__file__).with_name("labels.yaml")


@dataclass(frozen=True)
class IndicatorSpec:
    """An indicator the scorecard shows. `planned`: its source is not connected yet, so it
    is listed as having no source (never as 0); its names are given here."""

    code: str
    name_vi: str | None = None
    name_en: str | None = None
    planned: bool = False


@dataclass(frozen=True)
class ReportSettings:
    languages: tuple[str, ...]
    period_types: tuple[str, ...]
    trend_months: int
    out_dir: str
    indicators: tuple[IndicatorSpec, ...]

    @classmethod
    def from_file(cls, path: Path, known_indicators: set[str] | None = None) -> ReportSettings:
        """Read and check config/reports.yaml; `known_indicators` (the catalogue's codes)
        makes an unknown code an error unless it is marked planned."""
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        problems = []
        languages = tuple(data.get("languages") or ("vi",))
        problems += [f"language {x!r} is not one of {LANGUAGES}" for x in languages
                     if x not in LANGUAGES]
        period_types = tuple(data.get("period_types") or ("month",))
        problems += [f"period type {x!r} is not one of {PERIOD_TYPES}" for x in period_types
                     if x not in PERIOD_TYPES]
        specs = []
        for item in data.get("indicators") or ():
            spec = IndicatorSpec(code=item) if isinstance(item, str) else IndicatorSpec(
                code=str(item.get("code")), name_vi=item.get("name_vi"),
                name_en=item.get("name_en"), planned=bool(item.get("planned")))
            if spec.planned and not (spec.name_vi and spec.name_en):
                problems.append(f"planned indicator {spec.code}: give name_vi and name_en")
            if (not spec.planned and known_indicators is not None
                    and spec.code not in known_indicators):
                problems.append(f"indicator {spec.code} is not in the catalogue "
                                "(config/indicators.yaml); mark it `planned: true` if its "
                                "source is not connected yet")
            specs.append(spec)
        trend_months = data.get("trend_months", 12)
        if not isinstance(trend_months, int) or not 1 <= trend_months <= 60:
            problems.append(f"trend_months must be a whole number of months 1..60, "
                            f"got {trend_months!r}")
        if problems:
            raise ValueError(f"{path}: " + "; ".join(problems))
        return cls(languages=languages, period_types=period_types, trend_months=trend_months,
                   out_dir=str(data.get("out_dir") or "reports"), indicators=tuple(specs))


@cache
def labels_of(path: Path = LABELS_FILE) -> Mapping[str, Mapping[str, str]]:
    """A labels file (`key: {vi: …, en: …}`), read once and checked."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    for key, value in data.items():
        if not isinstance(value, dict) or set(value) != set(LANGUAGES) or not all(
                isinstance(text, str) for text in value.values()):
            raise ValueError(f"{path}: label {key} needs exactly {LANGUAGES}, as text")
    return data


class Labels:
    """`labels("sec_rankings")` → the text in the chosen language; keyword arguments fill
    its `{placeholders}`. A page with labels of its own names their file in `FILE`."""

    FILE = LABELS_FILE

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {lang!r}")
        self.lang = lang

    def __call__(self, key: str, **values: Any) -> str:
        text = labels_of(self.FILE)[key][self.lang]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in labels_of(self.FILE)

    def level(self, level: str | None) -> str:
        if level is None:
            return self("level_unknown") if self.has("level_unknown") else ""
        return self(f"level_{level}") if level in ("province", "department", "commune",
                                                   "district") else level

    def coded(self, prefix: str, code: str | None) -> str:
        """A code the warehouse stores (a note, a status) in words; unknown codes as is."""
        key = f"{prefix}_{code}"
        return self(key) if code and self.has(key) else (code or "")
