"""Where things live. Every path and URL can be overridden by environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from domain.units import UnitRegistry

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    data_dir: Path
    warehouse_url: str

    @classmethod
    def from_env(cls) -> Settings:
        """REFORMSTATS_CONFIG_DIR, REFORMSTATS_DATA_DIR, REFORMSTATS_WAREHOUSE_URL."""
        data_dir = Path(os.environ.get("REFORMSTATS_DATA_DIR", PROJECT_ROOT / "data"))
        return cls(
            config_dir=Path(os.environ.get("REFORMSTATS_CONFIG_DIR", PROJECT_ROOT / "config")),
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

    @cached_property
    def sources(self) -> dict[str, Any]:
        with open(self.config_dir / "sources.yaml", encoding="utf-8") as handle:
            return yaml.safe_load(handle)

    @cached_property
    def units(self) -> UnitRegistry:
        return UnitRegistry.from_folder(self.config_dir / "units")
