"""Airflow-facing adapters: the portal hook reads its Connection; the ops notifier
delivers a secret-free alert to a real webhook on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from plugins.hooks import NationalPortalHook
from plugins.notifiers import notify_ops, ops_message


def test_hook_builds_client_config_from_connection(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NATIONAL_PORTAL", json.dumps({
        "conn_type": "http", "host": "http://127.0.0.1:9", "password": "tok-123",
        "extra": {"rate_per_second": 0.5, "page_size": 50}}))
    config = NationalPortalHook().get_config()
    assert (config.base_url, config.token) == ("http://127.0.0.1:9", "tok-123")
    assert (config.rate_per_second, config.page_size) == (0.5, 50)


def test_hook_falls_back_to_environment_without_a_connection(monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NATIONAL_PORTAL", raising=False)
    monkeypatch.setenv("REFORMSTATS_NATIONAL_PORTAL_URL", "http://127.0.0.1:10")
    assert NationalPortalHook().get_config().base_url == "http://127.0.0.1:10"


def failure_context() -> dict:
    ti = SimpleNamespace(dag_id="national_portal_monthly", task_id="extract", map_index=1,
                         try_number=2)
    return {"task_instance": ti, "run_id": "scheduled__2025-11-01",
            "exception": RuntimeError("HTTP 503 from http://portal/jsp/rest.jsp\ntrace...")}


def test_ops_message_names_the_task_and_keeps_one_line_of_error() -> None:
    message = ops_message(failure_context())
    assert message["dag_id"] == "national_portal_monthly"
    assert message["task_id"] == "extract" and message["map_index"] == 1
    assert message["error"] == "RuntimeError: HTTP 503 from http://portal/jsp/rest.jsp"


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_notify_ops_posts_the_alert_to_the_configured_webhook(webhook, monkeypatch) -> None:
    url, received = webhook
    monkeypatch.setenv("REFORMSTATS_OPS_WEBHOOK_URL", url)
    notify_ops(failure_context())
    assert len(received) == 1
    assert received[0]["task_id"] == "extract"
    assert set(received[0]) == {"kind", "dag_id", "task_id", "map_index", "run_id",
                                "try_number", "partition_start", "error"}


@pytest.fixture
def custom_config(tmp_path, monkeypatch):
    """A copy of config/ whose sources.yaml names other Connections and defaults."""
    import shutil

    import yaml

    from registry.settings import PROJECT_ROOT

    folder = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", folder)
    sources = yaml.safe_load((folder / "sources.yaml").read_text(encoding="utf-8"))
    sources["national_portal"].update(connection_id="dvcqg_prod", rate_per_second=0.25,
                                      page_size=300)
    sources["onestop"].update(connection_id="mot_cua_{province}", page_size=77,
                              hash_key_connection_id="khoa_bam")
    (folder / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True),
                                         encoding="utf-8")
    monkeypatch.setenv("REFORMSTATS_CONFIG_DIR", str(folder))
    return folder


def test_portal_hook_reads_the_connection_and_defaults_sources_yaml_names(
        custom_config, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DVCQG_PROD", json.dumps({
        "conn_type": "http", "host": "http://127.0.0.1:9", "extra": {"page_size": 50}}))
    config = NationalPortalHook().get_config()
    assert config.base_url == "http://127.0.0.1:9"
    assert (config.rate_per_second, config.page_size) == (0.25, 50)  # yaml, then extra


def test_onestop_hook_reads_the_connection_and_hash_key_sources_yaml_names(
        custom_config, monkeypatch) -> None:
    from plugins.hooks import OneStopHook

    monkeypatch.setenv("AIRFLOW_CONN_MOT_CUA_11", json.dumps({
        "conn_type": "http", "host": "http://127.0.0.1:9/onestop/11", "login": "id",
        "password": "secret-value", "extra": {"rate_per_second": 2}}))
    monkeypatch.setenv("AIRFLOW_CONN_KHOA_BAM", json.dumps({"conn_type": "generic",
                                                           "password": "k3y"}))
    config = OneStopHook("11").get_config()
    assert (config.base_url, config.client_id, config.vendor) == (
        "http://127.0.0.1:9/onestop/11", "id", "igate")
    assert (config.page_size, config.rate_per_second, config.hash_key) == (77, 2.0, b"k3y")
    assert "secret-value" not in repr(config) and "k3y" not in repr(config)


def test_a_source_without_a_url_fails_the_task_without_retries(monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from plugins.hooks import NationalPortalHook, OneStopHook, source_config

    for name in ("AIRFLOW_CONN_NATIONAL_PORTAL", "REFORMSTATS_NATIONAL_PORTAL_URL",
                 "AIRFLOW_CONN_ONESTOP_91", "REFORMSTATS_ONESTOP_91_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AirflowFailException, match="REFORMSTATS_NATIONAL_PORTAL_URL"):
        source_config(NationalPortalHook())
    with pytest.raises(AirflowFailException, match="REFORMSTATS_ONESTOP_91_URL"):
        source_config(OneStopHook("91"))


def test_two_configured_ids_for_one_unit_are_an_error(tmp_path) -> None:
    from domain.units import UnitRegistry

    (tmp_path / "source_ids.csv").write_text(
        "scheme,source_id,unit_code,valid_from,valid_to\n# a comment\n"
        "legacy_tinh,11391,91,2025-07-01,\nlegacy_tinh,777,91,2025-07-01,\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"two legacy_tinh IDs for unit 91 .*11391, 777"):
        UnitRegistry.from_folder(tmp_path, reference=False)
