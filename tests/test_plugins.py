"""Airflow-facing adapters: the portal hook reads its Connection; the ops notifier
delivers a secret-free alert to a real webhook on 127.0.0.1."""

from __future__ import annotations

import json
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


def failure_context(exception: BaseException | None = None) -> dict:
    ti = SimpleNamespace(dag_id="national_portal_monthly", task_id="extract", map_index=1,
                         try_number=2, run_id="scheduled__2025-11-01",
                         log_url="http://airflow.example/dags/national_portal_monthly/runs/"
                                 "scheduled__2025-11-01/tasks/extract/mapped/1?try_number=2")
    return {"task_instance": ti, "run_id": "scheduled__2025-11-01",
            "exception": exception or RuntimeError(
                "HTTP 503 from http://portal/jsp/rest.jsp\ntrace...")}


def test_ops_message_names_the_task_and_keeps_one_line_of_error() -> None:
    message = ops_message(failure_context())
    assert message["kind"] == "task_failed"
    assert message["dag_id"] == "national_portal_monthly"
    assert message["task_id"] == "extract" and message["map_index"] == 1
    assert message["error"] == "RuntimeError: HTTP 503 from http://portal/jsp/rest.jsp"
    assert message["log_url"].endswith("/tasks/extract/mapped/1?try_number=2")


def test_ops_message_masks_url_credentials_and_queries() -> None:
    error = RuntimeError("HTTP 401 from https://svc:s3cr3t@mc.example.vn/api/ho-so?"
                         "access_token=t0k3n&page=2 (after 1 try)")
    message = ops_message(failure_context(error))
    assert message["error"] == ("RuntimeError: HTTP 401 from https://mc.example.vn/api/ho-so "
                                "(after 1 try)")


@pytest.mark.parametrize(("text", "shown"), [
    ("postgresql://u:p@ss@db:5432/w refused", "postgresql://db:5432/w refused"),
    ("Authorization: Bearer abc.def-123 refused", "Authorization: Bearer <hidden> refused"),
    ('answer {"token": "s3cr3t", "n": 1}', 'answer {"token": "<hidden>", "n": 1}'),
    ("GET /api?token=abc&page=2", "GET /api?token=<hidden>&page=2"),
])
def test_masked_hides_credentials_in_any_usual_form(text: str, shown: str) -> None:
    from plugins.notifiers import masked

    assert masked(text) == shown


def test_a_run_failure_names_the_run_and_links_to_it() -> None:
    context = {"dag": SimpleNamespace(dag_id="marts_monthly"), "run_id": "manual__x y",
               "reason": "task_failure"}
    message = ops_message(context)
    assert (message["kind"], message["task_id"], message["error"]) == (
        "run_failed", None, "task_failure")
    assert message["log_url"] == "http://localhost:8080/dags/marts_monthly/runs/manual__x%20y"


def test_the_ops_notifier_posts_and_mails_the_alert_at_once(settings, monkeypatch) -> None:
    """The notifier Airflow calls: a JSON POST to the ops webhook and an e-mail to the ops
    address, both real (127.0.0.1), with the SMTP password never in either."""
    from plugins.notifiers import OpsNotifier
    from simulator.receivers import Mailbox, WebhookReceiver

    monkeypatch.setenv("REFORMSTATS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("REFORMSTATS_WAREHOUSE_URL", settings.warehouse_url)
    with Mailbox(login="ops", password="pw-Secret-9") as mailbox, WebhookReceiver() as hooks:
        monkeypatch.setenv("AIRFLOW_CONN_REFORMSTATS_SMTP",
                           f"smtp://ops:pw-Secret-9@127.0.0.1:{mailbox.port}")
        monkeypatch.setenv("REFORMSTATS_OPS_WEBHOOK_URL", f"{hooks.url}/ops")
        OpsNotifier()(failure_context())
        # a run's callback: under dag.test() its DAG is a SerializedDAG, which has no
        # template environment (as this stand-in has none)
        OpsNotifier()({"dag": SimpleNamespace(dag_id="marts_monthly"), "run_id": "manual__1",
                       "reason": "task_failure"})
        mails = mailbox.wait_for(2)
        posts = hooks.at("/ops")
    assert len(posts) == 2 and len(mails) == 2
    assert posts[1].body["alerts"][0]["kind"] == "run_failed"
    payload = posts[0].body
    assert payload["schema"] == "reformstats.alert/1" and payload["kind"] == "ops"
    (failure,) = payload["alerts"]
    assert set(failure) == {"kind", "dag_id", "task_id", "map_index", "run_id",
                            "try_number", "partition_start", "error", "log_url"}
    assert (failure["task_id"], failure["try_number"]) == ("extract", 2)
    assert mails[0].recipients == ["ops@reformstats.example.org"]
    assert "Task failed: national_portal_monthly.extract (try 2)" in mails[0].subject
    assert "Log: http://airflow.example/dags/national_portal_monthly/runs/" in mails[0].text
    assert "pw-Secret-9" not in json.dumps(payload) + mails[0].text


def test_the_ops_notifier_never_fails_its_callback_when_receivers_are_down(
        settings, monkeypatch) -> None:
    """Webhook down, no SMTP: the callback returns, and the message waits in the outbox."""
    import sqlalchemy as sa

    from simulator.receivers import WebhookReceiver
    from warehouse.engine import transaction
    from warehouse.schema import alert_message

    monkeypatch.setenv("REFORMSTATS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("REFORMSTATS_WAREHOUSE_URL", settings.warehouse_url)
    monkeypatch.delenv("AIRFLOW_CONN_REFORMSTATS_SMTP", raising=False)
    with WebhookReceiver(mode="down") as hooks:
        monkeypatch.setenv("REFORMSTATS_OPS_WEBHOOK_URL", f"{hooks.url}/ops")
        notify_ops(failure_context())
        refused = hooks.refused
    with transaction(settings.warehouse_url) as conn:
        kept = sorted((r.channel, r.status, r.attempts) for r in conn.execute(
            sa.select(alert_message.c.channel, alert_message.c.status,
                      alert_message.c.attempts)))
    assert refused == 1
    assert kept == [("email:ops@reformstats.example.org", "unconfigured", 1),
                    ("webhook:json:REFORMSTATS_OPS_WEBHOOK_URL", "pending", 1)]

    # SMTP configured and the webhook back: the next alerts run, past the first wait
    # (1 minute), delivers both
    import datetime as dt

    from alerts.routing import load_routing
    from alerts.run import deliver_outbox
    from simulator.receivers import Mailbox

    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    with Mailbox() as mailbox, WebhookReceiver() as hooks:
        monkeypatch.setenv("REFORMSTATS_OPS_WEBHOOK_URL", f"{hooks.url}/ops")
        monkeypatch.setenv("AIRFLOW_CONN_REFORMSTATS_SMTP", mailbox.uri)
        from alerts.deliver import smtp_from_environment

        done = deliver_outbox(settings, load_routing(settings.config_dir),
                              smtp_from_environment("reformstats_smtp"), lambda: later)
        assert (len(mailbox.wait_for(1)), len(hooks.at("/ops"))) == (1, 1)
    assert done["delivered"] == 2


def test_fail_fast_fails_at_once_on_what_no_retry_fixes() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from plugins.notifiers import fail_fast
    from sources.errors import RetryableSourceError, SourceHTTPError

    permanent = pytest.raises(AirflowFailException, match=r"^HTTP 403 from https://h/x$")
    with permanent, fail_fast():
        raise SourceHTTPError("HTTP 403 from https://h/x?key=k", 403)
    with pytest.raises(RetryableSourceError), fail_fast():  # worth a retry: left as it is
        raise RetryableSourceError("HTTP 503")
    # our code meeting data it did not expect: the same on every try
    with pytest.raises(AirflowFailException, match="no legacy_766 ID for unit H97"), \
            fail_fast():
        raise KeyError("no legacy_766 ID for unit H97 on 2024-06-01")
    from warehouse.engine import WarehouseBusyError

    with pytest.raises(WarehouseBusyError), fail_fast():  # another writer: wait and retry
        raise WarehouseBusyError("the warehouse file is locked by PID 1")


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
