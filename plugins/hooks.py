"""Hooks: read Airflow Connections (never at DAG parse time) and build plain clients.

- `national_portal` (conn type http): host = base URL (or host + schema/port), password =
  bearer token if the deployment has one; extras: rate_per_second, page_size,
  read_timeout, max_attempts. Falls back to REFORMSTATS_NATIONAL_PORTAL_* variables.
- `reformstats_warehouse`: its URI is the warehouse URL; falls back to
  REFORMSTATS_WAREHOUSE_URL, then the embedded DuckDB file.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from airflow.sdk import BaseHook

from pipeline.settings import Settings
from sources.national_portal import NationalPortalConfig

log = logging.getLogger(__name__)


def _connection(conn_id: str) -> Any:
    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or no Airflow context at all
        log.info("connection %r not available (%s); using environment", conn_id,
                 type(exc).__name__)
        return None


class NationalPortalHook(BaseHook):
    conn_name_attr = "national_portal_conn_id"
    default_conn_name = "national_portal"
    conn_type = "http"
    hook_name = "National public-service portal (DVCQG)"

    def __init__(self, national_portal_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.conn_id = national_portal_conn_id

    def get_config(self) -> NationalPortalConfig:
        conn = _connection(self.conn_id)
        if conn is None:
            return NationalPortalConfig.from_env()
        host = conn.host or ""
        if "://" not in host:
            scheme = conn.schema or "https"
            host = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
        extra = conn.extra_dejson or {}
        fields = {f.name for f in dataclasses.fields(NationalPortalConfig)}
        options = {k: type(getattr(NationalPortalConfig, k, 0.0))(v)
                   for k, v in extra.items() if k in fields - {"base_url", "token"}}
        return NationalPortalConfig(base_url=host, token=conn.password or None, **options)

    def get_conn(self) -> NationalPortalConfig:
        return self.get_config()


def pipeline_settings() -> Settings:
    """Settings from the environment, with the warehouse URL from a Connection if set."""
    settings = Settings.from_env()
    conn = _connection("reformstats_warehouse")
    if conn is not None:
        settings = dataclasses.replace(settings, warehouse_url=conn.get_uri())
    return settings
