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

from registry.settings import Settings
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


def dossier_hash_key() -> bytes:
    """Key for hashing dossier IDs: Connection `dossier_hash_key` (password), else
    REFORMSTATS_DOSSIER_HASH_KEY. Empty if neither is set (the client then refuses)."""
    from sources.onestop import hash_key_from_env

    conn = _connection("dossier_hash_key")
    if conn is not None and conn.password:
        return conn.password.encode("utf-8")
    return hash_key_from_env()


class OneStopHook(BaseHook):
    """A province's one-stop system: Connection `onestop_<province>` (host = base URL,
    login = client id, password = client secret; extras page_size, rate_per_second,
    vendor, export_format), else REFORMSTATS_ONESTOP_<CODE>_URL / _CLIENT_ID / _CLIENT_SECRET."""

    conn_type = "http"
    hook_name = "Provincial one-stop system (một cửa điện tử)"

    def __init__(self, province_code: str) -> None:
        super().__init__()
        self.province_code = province_code

    def get_config(self, settings: Settings) -> Any:
        import os

        import yaml

        from sources.onestop import OneStopConfig

        config = yaml.safe_load((settings.config_dir / "onestop.yaml").read_text("utf-8"))
        province = config["provinces"][self.province_code]
        conn = _connection(f"onestop_{self.province_code.lower()}")
        extra = (conn.extra_dejson or {}) if conn is not None else {}
        if conn is not None:
            url, client_id, secret = conn.host, conn.login, conn.password
        else:
            prefix = f"REFORMSTATS_ONESTOP_{self.province_code}_"
            url = os.environ.get(prefix + "URL")
            client_id = os.environ.get(prefix + "CLIENT_ID")
            secret = os.environ.get(prefix + "CLIENT_SECRET")
        if not url:
            raise KeyError(f"no one-stop system configured for {self.province_code}: set the "
                           f"Connection onestop_{self.province_code.lower()} or "
                           f"REFORMSTATS_ONESTOP_{self.province_code}_URL")
        return OneStopConfig(
            province_code=self.province_code,
            vendor=extra.get("vendor", province["vendor"]), base_url=url,
            client_id=client_id or "", client_secret=secret or "",
            hash_key=dossier_hash_key(),
            rate_per_second=float(extra.get("rate_per_second", config["rate_per_second"])),
            page_size=int(extra.get("page_size", config["page_size"])),
            export_format=extra.get("export_format", province.get(
                "export_format", config["export_format"])))

    def get_conn(self) -> Any:
        return self.get_config(pipeline_settings())
