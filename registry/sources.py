"""Source settings: config/sources.yaml, parsed and checked in this one place.

Defaults for each source client (rate, page size, the Connection to read) and what the
deployment covers (provinces, vendors). Credentials are never here: hooks read them from
Airflow Connections or the environment, and a Connection's extra may override a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from domain.periods import Month
from registry.datasets import lookup

EXPORT_FORMATS = ("json", "csv")


class SourceSettingsError(ValueError):
    """config/sources.yaml is not as documented; the message names the key."""


@dataclass(frozen=True)
class NationalPortalSettings:
    connection_id: str
    rate_per_second: float
    page_size: int
    reporting_api_from: Mapping[str, Month]  # dataset -> first month of the reporting API
    provinces: tuple[str, ...]
    pool: str = "national_portal"  # Airflow pool every extract of the portal runs in
    pool_slots: int = 1

    def api_for(self, dataset: str, month: Month) -> str:
        """Which API generation serves a dataset for a month: the reporting API from its
        cut-over month on, else (and for datasets it does not serve) the legacy gateway."""
        cutover = self.reporting_api_from.get(dataset)
        return "reporting_api" if cutover is not None and month >= cutover else "legacy_gateway"


@dataclass(frozen=True)
class OneStopProvince:
    code: str
    vendor: str
    export_format: str | None = None


@dataclass(frozen=True)
class OneStopSettings:
    connection_id: str                  # template: {province} is the lower-case code
    hash_key_connection_id: str
    rate_per_second: float
    page_size: int
    export_format: str
    part_rows: int
    provinces: Mapping[str, OneStopProvince]

    def connection_for(self, province: str) -> str:
        return self.connection_id.format(province=province.lower())

    def province(self, code: str) -> OneStopProvince:
        return lookup(self.provinces, code, "one-stop system in config/sources.yaml for province")


@dataclass(frozen=True)
class EOfficeSettings:
    connection_id: str                  # template: {province} is the lower-case code
    rate_per_second: float
    page_size: int
    provinces: tuple[str, ...]          # provinces whose figures come from their API
    inbox: str                          # report-file folders, below the data folder
    archive: str
    rejected: str
    settle_seconds: float = 60.0        # a file changed more recently is still being copied

    def connection_for(self, province: str) -> str:
        return self.connection_id.format(province=province.lower())


@dataclass(frozen=True)
class SourceSettings:
    national_portal: NationalPortalSettings
    onestop: OneStopSettings
    eoffice: EOfficeSettings

    @classmethod
    def from_file(cls, path: Path) -> SourceSettings:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        try:
            portal, onestop, eoffice = raw["national_portal"], raw["onestop"], raw["eoffice"]
            return cls(
                national_portal=NationalPortalSettings(
                    connection_id=str(portal["connection_id"]),
                    rate_per_second=float(portal["rate_per_second"]),
                    page_size=int(portal["page_size"]),
                    reporting_api_from={str(name): Month.parse(str(month)) for name, month
                                        in (portal.get("reporting_api_from") or {}).items()},
                    provinces=tuple(str(p) for p in portal["provinces"]),
                    pool=str(portal["pool"]["name"]),
                    pool_slots=int(portal["pool"]["slots"])),
                onestop=OneStopSettings(
                    connection_id=str(onestop["connection_id"]),
                    hash_key_connection_id=str(onestop["hash_key_connection_id"]),
                    rate_per_second=float(onestop["rate_per_second"]),
                    page_size=int(onestop["page_size"]),
                    export_format=_choice(onestop["export_format"], EXPORT_FORMATS,
                                          "onestop.export_format"),
                    part_rows=int(onestop["part_rows"]),
                    provinces={str(code): _province(str(code), entry or {})
                               for code, entry in onestop["provinces"].items()}),
                eoffice=EOfficeSettings(
                    connection_id=str(eoffice["connection_id"]),
                    rate_per_second=float(eoffice["rate_per_second"]),
                    page_size=int(eoffice["page_size"]),
                    provinces=tuple(str(p) for p in eoffice["provinces"] or ()),
                    inbox=str(eoffice["inbox"]), archive=str(eoffice["archive"]),
                    rejected=str(eoffice["rejected"]),
                    settle_seconds=float(eoffice.get("settle_seconds", 60))))
        except KeyError as exc:
            raise SourceSettingsError(f"{path}: missing key {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise SourceSettingsError(f"{path}: {exc}") from exc


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise SourceSettingsError(f"{where} must be one of {allowed}, got {value!r}")
    return str(value)


def _province(code: str, entry: Mapping[str, Any]) -> OneStopProvince:
    fmt = entry.get("export_format")
    return OneStopProvince(
        code=code, vendor=str(entry["vendor"]),  # checked against the adapters when used
        export_format=None if fmt is None else _choice(
            fmt, EXPORT_FORMATS, f"onestop.provinces.{code}.export_format"))
