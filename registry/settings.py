"""Where things live, and the configuration files read once per process.

Every path and URL can be overridden by environment variables: REFORMSTATS_CONFIG_DIR,
REFORMSTATS_DATA_DIR, REFORMSTATS_WAREHOUSE_URL (plugins.hooks also takes the warehouse URL
from the Airflow Connection `reformstats_warehouse`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from domain.units import UnitRegistry
from registry.datasets import Registry
from registry.sources import SourceSettings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def config_dir_from_env() -> Path:
    return Path(os.environ.get("REFORMSTATS_CONFIG_DIR", PROJECT_ROOT / "config"))


def load_registry() -> Registry:
    """The dataset registry of the configured config folder (cheap: DAG files call it)."""
    return Registry.from_file(config_dir_from_env() / "datasets.yaml")


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    data_dir: Path
    warehouse_url: str

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("REFORMSTATS_DATA_DIR", PROJECT_ROOT / "data"))
        return cls(
            config_dir=config_dir_from_env(),
            data_dir=data_dir,
            warehouse_url=os.environ.get(
                "REFORMSTATS_WAREHOUSE_URL", f"duckdb:///{data_dir / 'warehouse.duckdb'}"),
        )

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "staging"

    def staging_folder(self, source: str, dataset: str, month: str, fetch_id: str) -> Path:
        """Where validate writes a fetch's good rows, quarantine and dq results."""
        return self.staging_dir / source / dataset / f"month={month}" / f"fetch={fetch_id}"

    def eoffice_folder(self, which: str) -> Path:
        """`inbox`, `archive` or `rejected`: the e-office report files' folders
        (config/sources.yaml eoffice), below the data folder."""
        if which not in ("inbox", "archive", "rejected"):
            raise ValueError(f"no e-office folder {which!r}")
        return self.data_dir / getattr(self.sources.eoffice, which)

    @cached_property
    def registry(self) -> Registry:
        return Registry.from_file(self.config_dir / "datasets.yaml")

    @cached_property
    def sources(self) -> SourceSettings:
        return SourceSettings.from_file(self.config_dir / "sources.yaml")

    @cached_property
    def units(self) -> UnitRegistry:
        return UnitRegistry.from_folder(self.config_dir / "units")

    @property
    def indicator_catalogue_path(self) -> Path:
        return self.config_dir / "indicators.yaml"

    @property
    def schemes_dir(self) -> Path:
        """Rule sets: <scheme>/<version>.yaml (docs/rule_sets.md)."""
        return self.config_dir / "schemes"
