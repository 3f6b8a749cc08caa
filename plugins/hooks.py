"""Hooks: read Airflow Connections (never at DAG parse time) and build plain clients.

Which Connection each source reads, and the defaults a Connection's extra may override,
come from config/sources.yaml (registry.sources):
- national portal (conn type http): host = base URL (or host + schema/port), password =
  bearer token if the deployment has one; extras: any HttpOptions field (rate_per_second,
  page_size, read_timeout, max_attempts, ...). Falls back to REFORMSTATS_NATIONAL_PORTAL_*.
- one-stop system of a province (http): host = base URL, login = client id, password =
  client secret; extras: HttpOptions fields, vendor, export_format. Falls back to
  REFORMSTATS_ONESTOP_<CODE>_URL / _CLIENT_ID / _CLIENT_SECRET.
- e-office system of a province (http): the same fields as a one-stop system; extras:
  HttpOptions fields. Falls back to REFORMSTATS_EOFFICE_<CODE>_URL / _CLIENT_ID /
  _CLIENT_SECRET.
- `reformstats_warehouse`: its URI is the warehouse URL; falls back to
  REFORMSTATS_WAREHOUSE_URL, then the embedded DuckDB file.
- `reformstats_smtp` (smtp; the id is config/alerts.yaml's smtp.connection_id): the server
  alerts are e-mailed through; extras from_email, starttls, ssl, timeout.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from airflow.sdk import BaseHook

from registry.settings import Settings
from sources.http import option_overrides
from sources.national_portal import NationalPortalConfig

log = logging.getLogger(__name__)


def _connection(conn_id: str) -> Any:
    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or no Airflow context at all
        log.info("connection %r not available (%s); using environment", conn_id,
                 type(exc).__name__)
        return None


def pipeline_settings() -> Settings:
    """Settings from the environment, with the warehouse URL from a Connection if set."""
    settings = Settings.from_env()
    conn = _connection("reformstats_warehouse")
    if conn is not None:
        settings = dataclasses.replace(settings, warehouse_url=conn.get_uri())
    return settings


class NationalPortalHook(BaseHook):
    conn_name_attr = "national_portal_conn_id"
    default_conn_name = "national_portal"
    conn_type = "http"
    hook_name = "National public-service portal (DVCQG)"

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or pipeline_settings()
        self.conn_id = self.settings.sources.national_portal.connection_id

    def get_config(self) -> NationalPortalConfig:
        defaults = self.settings.sources.national_portal
        options = {"rate_per_second": defaults.rate_per_second,
                   "page_size": defaults.page_size}
        conn = _connection(self.conn_id)
        if conn is None:
            return NationalPortalConfig.from_env(**options)
        host = conn.host or ""
        if "://" not in host:
            scheme = conn.schema or "https"
            host = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
        options |= option_overrides(conn.extra_dejson or {})
        return NationalPortalConfig(base_url=host, token=conn.password or None, **options)

    def get_conn(self) -> NationalPortalConfig:
        return self.get_config()


def source_config(hook: NationalPortalHook | OneStopHook | EOfficeHook) -> Any:
    """The hook's client configuration; a source with no URL fails the task at once,
    without retries (retrying cannot configure it)."""
    from plugins.notifiers import fail_fast

    with fail_fast():
        return hook.get_config()


def smtp_settings(settings: Settings) -> Any:
    """The SMTP server alerts are sent through: the Connection config/alerts.yaml names
    (conn type smtp), else the same Connection as AIRFLOW_CONN_<ID>; None if neither."""
    from alerts.deliver import SmtpSettings, smtp_from_environment
    from alerts.routing import load_routing

    conn_id = load_routing(settings.config_dir).smtp_connection_id
    conn = _connection(conn_id)
    if conn is None or not conn.host:
        return smtp_from_environment(conn_id)
    return SmtpSettings.from_fields(host=conn.host, port=conn.port, login=conn.login,
                                    password=conn.password, extra=conn.extra_dejson or {})


def dossier_hash_key(settings: Settings) -> bytes:
    """Key for hashing dossier IDs: the Connection named in sources.yaml (password), else
    REFORMSTATS_DOSSIER_HASH_KEY. Empty if neither is set (the client then refuses)."""
    from sources.onestop import hash_key_from_env

    conn = _connection(settings.sources.onestop.hash_key_connection_id)
    if conn is not None and conn.password:
        return conn.password.encode("utf-8")
    return hash_key_from_env()


def client_credentials(conn_id: str, env_prefix: str, missing: str
                       ) -> tuple[str, str, str, dict[str, Any]]:
    """(base URL, client id, client secret, extra) of a system behind OAuth2 client
    credentials: the Connection (host, login, password), else the variables
    `<env_prefix>URL`, `_CLIENT_ID`, `_CLIENT_SECRET`. No URL: SourceNotConfiguredError
    (`missing`, with where to set it)."""
    conn = _connection(conn_id)
    if conn is not None:
        url, client_id, secret = conn.host, conn.login, conn.password
    else:
        url = os.environ.get(env_prefix + "URL")
        client_id = os.environ.get(env_prefix + "CLIENT_ID")
        secret = os.environ.get(env_prefix + "CLIENT_SECRET")
    if not url:
        from sources.errors import SourceNotConfiguredError

        raise SourceNotConfiguredError(f"{missing}: set the Connection {conn_id} or "
                                       f"{env_prefix}URL")
    extra = (conn.extra_dejson or {}) if conn is not None else {}
    return url, client_id or "", secret or "", extra


class OneStopHook(BaseHook):
    """A province's one-stop system (see the module docstring)."""

    conn_type = "http"
    hook_name = "Provincial one-stop system (một cửa điện tử)"

    def __init__(self, province_code: str, settings: Settings | None = None) -> None:
        super().__init__()
        self.province_code = province_code
        self.settings = settings or pipeline_settings()

    def get_config(self) -> Any:
        from sources.onestop import OneStopConfig

        onestop = self.settings.sources.onestop
        province = onestop.province(self.province_code)
        url, client_id, secret, extra = client_credentials(
            onestop.connection_for(self.province_code),
            f"REFORMSTATS_ONESTOP_{self.province_code}_",
            f"no one-stop system configured for {self.province_code}")
        options = {"rate_per_second": onestop.rate_per_second,
                   "page_size": onestop.page_size,
                   **option_overrides(extra)}
        return OneStopConfig(
            province_code=self.province_code, vendor=extra.get("vendor", province.vendor),
            base_url=url, client_id=client_id, client_secret=secret,
            hash_key=dossier_hash_key(self.settings),
            export_format=extra.get("export_format", province.export_format
                                    or onestop.export_format), **options)

    def get_conn(self) -> Any:
        return self.get_config()


class EOfficeHook(BaseHook):
    """A province's e-office system (docs/eoffice_api.md), behind client credentials."""

    conn_type = "http"
    hook_name = "Provincial e-office system (hệ thống quản lý văn bản và điều hành)"

    def __init__(self, province_code: str, settings: Settings | None = None) -> None:
        super().__init__()
        self.province_code = province_code
        self.settings = settings or pipeline_settings()

    def get_config(self) -> Any:
        from sources.eoffice import EOfficeConfig

        eoffice = self.settings.sources.eoffice
        url, client_id, secret, extra = client_credentials(
            eoffice.connection_for(self.province_code),
            f"REFORMSTATS_EOFFICE_{self.province_code}_",
            f"no e-office system configured for {self.province_code}")
        options = {"rate_per_second": eoffice.rate_per_second, "page_size": eoffice.page_size,
                   **option_overrides(extra)}
        return EOfficeConfig(province_code=self.province_code, base_url=url,
                             client_id=client_id, client_secret=secret, **options)

    def get_conn(self) -> Any:
        return self.get_config()
