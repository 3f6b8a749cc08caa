"""Alerts end to end on a real DuckDB warehouse: real e-mail to an SMTP server started here
on 127.0.0.1 (aiosmtpd) and real webhooks to a local HTTP receiver.

The warehouse holds, for March 2026 (written by hand below): a cross-check failed for
commune 30313 of An Giang (91), a rule failed for the whole of An Giang's one-stop load, a
portal check failed for Cao Bằng (04), Cao Bằng's one-stop load rejected, Điện Biên's
(11) one-stop load missing, and two indicators below An Giang's targets. Who hears what is
config/alerts.yaml's routing, worked out by hand in EXPECTED.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from alerts.run import run_alerts
from registry.settings import Settings
from simulator.receivers import Mailbox, WebhookReceiver
from tests.test_quality_page import SECRETS, check, load
from warehouse.engine import transaction
from warehouse.schema import (
    alert_message,
    alert_state,
    dq_result,
    fact_indicator_monthly,
    load_audit,
)

MAR = 202603
VN = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2026, 4, 12, 8, 0, tzinfo=VN)  # 12 April, 08:00 in Vietnam
COMMUNE, OTHER = "30313", "30307"  # Xã Mỹ Hòa Hưng, Phường Long Xuyên (both of 91)
CROSS = "crosscheck:received_total"
UNIT_KNOWN = "rule:unit_known"
HANDLED = "expect_column_values_to_not_be_null(dossiers_handled)"
TOKEN = "xoxb-SECRET-TOKEN-4411"
PASSWORD = "smtp-Pa55-secret"


def at(day: int, hour: int = 1) -> dt.datetime:
    return dt.datetime(2026, 4, day, hour, tzinfo=dt.UTC)


CHECKS = [
    check("run-1", "onestop_91", "dossiers", MAR, CROSS, False, severity="warning",
          unexpected=1, checked=at(2)),
    check("run-1", "onestop_91", "dossiers", MAR, CROSS, False, COMMUNE, severity="warning",
          unexpected=1, checked=at(2)),
    check("run-1", "onestop_91", "dossiers", MAR, UNIT_KNOWN, False, unexpected=3,
          checked=at(2)),
    check("run-1", "national_portal", "portal_monthly_counters", MAR, HANDLED, False,
          unexpected=1, checked=at(2)),
    check("run-1", "national_portal", "portal_monthly_counters", MAR, HANDLED, False, "04",
          unexpected=1, checked=at(2)),
]
LOADS = [
    load("run-1", "onestop_91", "dossiers", MAR, (40, 37, 3), "loaded", at(2)),
    load("run-1", "onestop_04", "dossiers", MAR, (25, 0, 25), "rejected", at(2)),
    load("run-1", "national_portal", "portal_monthly_counters", MAR, (3, 2, 1), "loaded",
         at(2)),
]


def indicator(unit: str, code: str, numerator: int, denominator: int) -> dict:
    return {"unit_code": unit, "period_id": MAR, "indicator_code": code,
            "province_code": "91", "numerator": numerator, "denominator": denominator,
            "value": numerator / denominator, "target": 0.95, "met": None,
            "formula_version": "1", "run_id": "run-1", "loaded_at": at(2)}


INDICATORS = [
    indicator(COMMUNE, "on_time_rate", 19, 20),        # 95 % < 98 %: An Giang's target
    indicator(OTHER, "on_time_rate", 50, 50),          # 100 %: met
    indicator(OTHER, "online_intake_rate", 8, 20),     # 40 % < 50 %
    indicator(COMMUNE, "online_intake_rate", 10, 20),  # 50 %: met (not below)
]

SO_91, SO_04 = "cchc@sonoivu-91.example.org", "cchc@sonoivu-04.example.org"
XA = "vanphong@myhoahung-91.example.org"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox(login="alerts", password=PASSWORD) as box:
        yield box


@pytest.fixture
def hooks() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def warehouse(settings: Settings, mailbox: Mailbox, hooks: WebhookReceiver,
              monkeypatch: pytest.MonkeyPatch) -> Settings:
    from steps.reference import refresh_reference

    refresh_reference(settings)
    with transaction(settings.warehouse_url) as conn:
        conn.execute(sa.insert(dq_result), CHECKS)
        conn.execute(sa.insert(load_audit), LOADS)
        conn.execute(sa.insert(fact_indicator_monthly), INDICATORS)
    # The SMTP Connection as Airflow reads it from the environment, with a password, and
    # webhook URLs carrying a token: none of them may show anywhere.
    monkeypatch.setenv("AIRFLOW_CONN_REFORMSTATS_SMTP",
                       f"smtp://alerts:{PASSWORD}@127.0.0.1:{mailbox.port}"
                       "?from_email=reformstats%40localhost")
    monkeypatch.setenv("REFORMSTATS_OFFICE_91_WEBHOOK_URL", f"{hooks.url}/slack?token={TOKEN}")
    monkeypatch.setenv("REFORMSTATS_OFFICE_11_WEBHOOK_URL", f"{hooks.url}/teams/{TOKEN}")
    monkeypatch.setenv("REFORMSTATS_OPS_WEBHOOK_URL", f"{hooks.url}/ops")
    return settings


def state_rows(settings: Settings) -> list[dict]:
    with transaction(settings.warehouse_url) as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(alert_state))]


def outbox(settings: Settings) -> list[dict]:
    with transaction(settings.warehouse_url) as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(alert_message).order_by(alert_message.c.created_at))]


def test_each_office_gets_one_vietnamese_message_about_its_own_units(
        warehouse: Settings, mailbox: Mailbox, hooks: WebhookReceiver) -> None:
    done = run_alerts(warehouse, now=NOW)

    # by hand: An Giang's office oversees every unit under 91 (2 data-quality alerts: the
    # commune's cross-check, the whole load's unit_known rule) and has targets (2 missed);
    # the commune's office oversees 30313 (its cross-check, its on-time target); Cao Bằng's
    # office: the portal check for 04 and its rejected load; Điện Biên's: its late load.
    assert done["opened"] == 4 + 2 + 2 + 1
    assert done["delivery"]["delivered"] == 5  # 3 e-mails, Slack (91) and Teams (11)
    assert sorted(m.recipients[0] for m in mailbox.mails) == sorted([SO_91, XA, SO_04])
    assert sorted(p.path for p in hooks.posts) == sorted(["/slack", f"/teams/{TOKEN}"])

    so91 = mailbox.to(SO_91)[0]
    assert so91.subject == "[Thống kê CCHC] 4 cảnh báo mới: Sở Nội vụ tỉnh An Giang (2026-03)"
    text = so91.text
    assert text.startswith("Kính gửi Sở Nội vụ tỉnh An Giang,")
    assert "Đơn vị: Xã Mỹ Hòa Hưng (30313)" in text
    assert ("Số liệu received_total tính từ hồ sơ khác số liệu tổng hợp của hệ thống "
            "một cửa") in text
    assert "Cơ quan trong dữ liệu không khớp đơn vị nào" in text
    assert "Đơn vị: Tỉnh An Giang (91)" in text  # the whole load is the province's
    assert "Số dòng bị ảnh hưởng: 3" in text
    # 19/20 = 95,00 % against An Giang's 98 %; 8/20 = 40,00 % against its 50 %
    assert ("Tỷ lệ hồ sơ giải quyết đúng hạn: 95,00 % (mục tiêu 98,00 %; 19/20 hồ sơ)"
            in text)
    assert "Tỷ lệ hồ sơ trực tuyến: 40,00 % (mục tiêu 50,00 %; 8/20 hồ sơ)" in text
    assert "Phường Long Xuyên (30307)" in text
    assert ("Kỳ: 2026-03 · Nguồn: Hệ thống thông tin giải quyết TTHC (một cửa điện tử) của "
            "Tỉnh An Giang") in text
    reports = warehouse.data_dir.resolve() / "reports"
    assert f"Xem tại: {reports}/91/2026-03/scorecard.vi.html" in text
    assert f"Xem tại: {reports}/quality.vi.html" in text
    assert "Truy vấn: SELECT * FROM dq_result WHERE run_id = 'run-1'" in text
    assert "Dear Sở Nội vụ" not in text and "Dear Department of Home Affairs, An Giang" in text

    commune = mailbox.to(XA)[0]
    assert commune.subject.startswith("[Thống kê CCHC] 2 cảnh báo mới")
    assert "Phường Long Xuyên" not in commune.text  # not its unit
    assert "Dear" not in commune.text  # Vietnamese only

    cao_bang = mailbox.to(SO_04)[0].text
    assert "Dữ liệu kỳ này không được công bố: 25 dòng nhận được đang chờ trong vùng cách ly" \
        in cao_bang
    assert "Thiếu giá trị ở cột dossiers_handled" in cao_bang
    assert "Đơn vị: Tỉnh Cao Bằng (04)" in cao_bang

    teams = hooks.at(f"/teams/{TOKEN}")[0].body
    card = teams["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    late = card["body"][1]["text"]
    # due by 3 April (warn_after_days 3), 12 April is 9 days later, past 10 April: critical
    assert "[Nghiêm trọng] Dữ liệu chưa đến đúng hạn" in late
    assert "hạn là hết ngày 2026-04-03 (chậm 9 ngày; sau 2026-04-10 là nghiêm trọng)" in late
    slack = hooks.at("/slack")[0].body
    assert slack["blocks"][0]["type"] == "header" and len(slack["blocks"]) == 3  # vi + en


def test_nothing_secret_or_personal_reaches_a_message_the_outbox_or_the_log(
        warehouse: Settings, mailbox: Mailbox, hooks: WebhookReceiver,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    run_alerts(warehouse, now=NOW)
    sent = [m.message.as_string() for m in mailbox.mails] + [
        json.dumps(p.body, ensure_ascii=False) for p in hooks.posts]
    stored = [json.dumps(r, ensure_ascii=False, default=str)
              for r in outbox(warehouse) + state_rows(warehouse)]
    for text in [*sent, *stored, caplog.text]:
        for secret in (TOKEN, PASSWORD, *SECRETS):
            assert secret not in text


def test_an_open_failure_is_not_sent_again_and_a_cleared_one_sends_a_recovery(
        warehouse: Settings, mailbox: Mailbox, hooks: WebhookReceiver) -> None:
    run_alerts(warehouse, now=NOW)
    first = len(mailbox.mails)
    again = run_alerts(warehouse, now=NOW + dt.timedelta(hours=1))
    assert again["opened"] == 0 and again["suppressed"] == 9 and again["queued"] == 0
    assert len(mailbox.mails) == first

    # An Giang reruns March: the cross-check and the rule now pass; Điện Biên's load comes.
    with transaction(warehouse.warehouse_url) as conn:
        conn.execute(sa.insert(dq_result), [
            check("run-2", "onestop_91", "dossiers", MAR, CROSS, True, checked=at(12, 2)),
            check("run-2", "onestop_91", "dossiers", MAR, UNIT_KNOWN, True, checked=at(12, 2))])
        conn.execute(sa.insert(load_audit), [
            load("run-2", "onestop_91", "dossiers", MAR, (40, 40, 0), "loaded", at(12, 2)),
            load("run-2", "onestop_11", "dossiers", MAR, (9, 9, 0), "loaded", at(12, 2))])
    cleared = run_alerts(warehouse, now=NOW + dt.timedelta(hours=2))
    assert cleared["resolved"] == 2 + 1 + 1 and cleared["opened"] == 0
    recoveries = [m for m in mailbox.mails[first:] if "khắc phục" in m.subject]
    assert sorted(m.recipients[0] for m in recoveries) == [SO_91, XA]
    so91 = mailbox.to(SO_91)[-1]
    assert so91.subject == ("[Thống kê CCHC] 2 vấn đề đã được khắc phục: "
                            "Sở Nội vụ tỉnh An Giang")
    assert "[Đã khắc phục] Cơ quan trong dữ liệu không khớp" in so91.text
    assert "Tỷ lệ hồ sơ" not in so91.text  # the targets are still missed
    teams = hooks.at(f"/teams/{TOKEN}")
    assert len(teams) == 2 and "khắc phục" in teams[-1].body["attachments"][0]["content"][
        "body"][0]["text"]
    statuses = sorted((r["route"], r["check_name"], r["status"]) for r in state_rows(warehouse)
                      if r["status"] != "open")
    assert statuses == [("so_noi_vu_11", "freshness", "resolved"),
                        ("so_noi_vu_91", CROSS, "resolved"),
                        ("so_noi_vu_91", UNIT_KNOWN, "resolved"),
                        ("xa_my_hoa_hung", CROSS, "resolved")]


def test_the_daily_digest_lists_what_is_still_open_once_a_day(
        warehouse: Settings, mailbox: Mailbox) -> None:
    run_alerts(warehouse, now=NOW)
    before = len(mailbox.mails)
    early = run_alerts(warehouse, now=NOW + dt.timedelta(hours=22))  # 13 April, 06:00
    assert early["queued"] == 0
    digest = run_alerts(warehouse, now=NOW + dt.timedelta(hours=24))  # 13 April, 08:00
    subjects = sorted(m.subject for m in mailbox.mails[before:])
    assert subjects == [
        "[Thống kê CCHC] Tổng hợp ngày 2026-04-13: 2 vấn đề còn mở, Sở Nội vụ tỉnh Cao Bằng",
        "[Thống kê CCHC] Tổng hợp ngày 2026-04-13: 2 vấn đề còn mở, Văn phòng HĐND và UBND "
        "xã Mỹ Hòa Hưng",
        "[Thống kê CCHC] Tổng hợp ngày 2026-04-13: 4 vấn đề còn mở, Sở Nội vụ tỉnh An Giang"]
    assert digest["suppressed"] == 9
    # first seen 12 April 01:00 UTC, which is 08:00 in Vietnam
    assert "Phát hiện từ: 2026-04-12 08:00 (giờ Việt Nam)" in mailbox.to(SO_04)[-1].text
    later = run_alerts(warehouse, now=NOW + dt.timedelta(hours=30))
    assert later["queued"] == 0  # one digest a day


def test_a_receiver_that_is_down_does_not_fail_the_run_and_is_retried_later(
        warehouse: Settings, hooks: WebhookReceiver, mailbox: Mailbox) -> None:
    hooks.mode = "down"
    done = run_alerts(warehouse, now=NOW)
    assert done["delivery"] == {"delivered": 3, "pending": 2, "waiting": 0}
    failed = [r for r in outbox(warehouse) if r["status"] == "pending"]
    assert {r["last_error"] for r in failed} == {"HTTP 503"}
    assert {r["attempts"] for r in failed} == {1}
    # too early for the next try (a minute's wait after the first failure)
    hooks.mode = "up"
    soon = run_alerts(warehouse, now=NOW + dt.timedelta(seconds=30))
    assert soon["delivery"].get("delivered", 0) == 0
    later = run_alerts(warehouse, now=NOW + dt.timedelta(minutes=2))
    assert later["delivery"]["delivered"] == 2
    assert {(r["status"], r["attempts"]) for r in outbox(warehouse)
            if r["channel"].startswith("webhook")} == {("delivered", 2)}
    assert len(hooks.posts) == 2


def test_a_slow_or_closed_receiver_does_not_hang_the_run(
        warehouse: Settings, hooks: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import alerts.deliver
    from simulator.receivers import free_port

    monkeypatch.setattr(alerts.deliver, "READ_TIMEOUT", 0.5)
    hooks.mode, hooks.delay = "slow", 3.0
    monkeypatch.setenv("REFORMSTATS_OFFICE_11_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/x")
    started = time.monotonic()
    done = run_alerts(warehouse, now=NOW)
    assert time.monotonic() - started < 20
    assert done["delivery"]["pending"] == 2  # the slow Slack and the closed Teams
    errors = sorted(r["last_error"] for r in outbox(warehouse) if r["status"] == "pending")
    assert errors == ["ConnectionError", "ReadTimeout"]


def test_a_bad_routing_file_is_refused_with_where_and_why(tmp_path: Path) -> None:
    from alerts.routing import Routing, RoutingError

    base = {"ops": {"name_vi": "Vận hành", "channels": []}}
    cases = {
        "url": {**base, "offices": {"x": {"name_vi": "X", "oversees": [{"unit": "91"}],
                                          "channels": [{"type": "webhook",
                                                        "url_env": "https://hooks/abc"}]}}},
        "none": {**base, "offices": {"x": {"name_vi": "X", "channels": []}}},
        "target": {**base, "offices": {"x": {"name_vi": "X", "oversees": [{"parent": "91"}],
                                             "targets": {"on_time_rate": 98}}}},
    }
    messages = {}
    for name, raw in cases.items():
        with pytest.raises(RoutingError) as caught:
            Routing.from_dict(raw)
        messages[name] = str(caught.value)
    assert "url_env" in messages["url"] and "never the URL" in messages["url"]
    assert "oversees some unit" in messages["none"]
    assert "a fraction" in messages["target"]


def test_the_alerts_commands_run_and_list_what_is_open(
        warehouse: Settings, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from commands.cli import app

    monkeypatch.setenv("REFORMSTATS_DATA_DIR", str(warehouse.data_dir))
    url = warehouse.warehouse_url
    runner = CliRunner()
    ran = runner.invoke(app, ["alerts", "run", "--url", url, "--at", NOW.isoformat()])
    assert ran.exit_code == 0, ran.output
    # the same 9 alerts as the first test (4 + 2 + 2 + 1), in 5 messages, all delivered
    assert "opened 9 · resent 0 · suppressed 0 · resolved 0 · expired 0 · queued" in ran.output
    assert "delivered 5" in ran.output
    listed = runner.invoke(app, ["alerts", "list", "--url", url, "--route", "so_noi_vu_04"])
    assert listed.exit_code == 0, listed.output
    assert "open alerts: 2" in listed.output and "rejected" in listed.output
    again = runner.invoke(app, ["alerts", "run", "--url", url, "--at",
                                (NOW + dt.timedelta(hours=1)).isoformat()])
    assert "opened 0 · resent 0 · suppressed 9" in again.output  # within 168 hours
    bad = runner.invoke(app, ["alerts", "run", "--url", url, "--at", "yesterday"])
    assert bad.exit_code == 2 and "an ISO date-time" in bad.output


def test_after_the_suppression_interval_each_office_gets_one_reminder_not_a_digest_too(
        warehouse: Settings, mailbox: Mailbox) -> None:
    run_alerts(warehouse, now=NOW)
    before = len(mailbox.mails)
    # 169 hours later (19 April, 09:00): past the 168 hours of config/alerts.yaml, and
    # past the digest hour; every open alert is re-sent, so no digest repeats them
    later = run_alerts(warehouse, now=NOW + dt.timedelta(hours=169))
    assert (later["opened"], later["resent"], later["suppressed"]) == (0, 9, 0)
    mails = mailbox.mails[before:]
    assert sorted(m.recipients[0] for m in mails) == sorted([SO_91, XA, SO_04])
    so04 = next(m for m in mails if m.recipients == [SO_04])
    assert so04.subject == ("[Thống kê CCHC] Nhắc lại 2 cảnh báo chưa khắc phục: "
                            "Sở Nội vụ tỉnh Cao Bằng (2026-03)")
    assert ("2 vấn đề đã báo trước đây vẫn chưa được khắc phục sau 168 giờ (nhắc lại)."
            in so04.text)
    assert "vấn đề mới" not in so04.text


def test_english_links_point_to_pages_that_exist(warehouse: Settings, mailbox: Mailbox
                                                 ) -> None:
    """config/reports.yaml writes Vietnamese pages only: the English text links to them."""
    run_alerts(warehouse, now=NOW)
    text = mailbox.to(SO_91)[0].text
    english = text[text.index("Dear Department of Home Affairs, An Giang"):]
    reports = warehouse.data_dir.resolve() / "reports"
    assert f"Where to look: {reports}/quality.vi.html" in english
    assert ".en.html" not in text


def test_a_long_message_is_split_for_slack_and_says_how_much_was_cut() -> None:
    from alerts.render import Message, body

    line = "x" * 99  # with its newline, 100 characters: 29 lines fill a 2,900 section
    message = Message(route="so_noi_vu_91", kind="alert", subject="s",
                      texts={"vi": "\n".join([line] * 2000)}, alerts=[], route_name={})
    blocks = body(message, "slack")["blocks"]
    sections = [b["text"]["text"] for b in blocks[1:]]
    # 48 sections of 29 lines would hold 1,392 lines; the last gives 200 characters (2
    # lines) to the note: 1,390 shown, 610 left, and the last section says so
    assert len(blocks) == 49 and all(len(s) <= 3000 for s in sections)
    assert sum(s.count(line) for s in sections) == 1390
    assert sections[-1].endswith(line + "\n… còn 610 dòng nữa: xem thư điện tử hoặc trang "
                                 "chất lượng dữ liệu.")
    short = Message(route="r", kind="alert", subject="s", texts={"vi": "a\nb", "en": "c"},
                    alerts=[], route_name={})
    assert [b["text"]["text"] for b in body(short, "slack")["blocks"][1:]] == ["a\nb\n", "c\n"]


def test_a_jump_says_the_value_before_and_now(warehouse: Settings, mailbox: Mailbox) -> None:
    details = json.dumps({"notes": "changed more than 3-fold since 2026-02", "sample": [
        {"unit_code": "30313", "previous": 300, "current": 90}]})
    rows = [check("run-1", "onestop_91", "dossiers", MAR, "jump:received_total", False,
                  severity="warning", unexpected=1, checked=at(12)),
            check("run-1", "onestop_91", "dossiers", MAR, "jump:received_total", False,
                  "30313", severity="warning", unexpected=1, checked=at(12))]
    with transaction(warehouse.warehouse_url) as conn:
        conn.execute(sa.insert(dq_result), [{**r, "details": details} for r in rows])
    run_alerts(warehouse, now=NOW)
    text = mailbox.to(XA)[0].text
    start = text.index("Số liệu received_total thay đổi bất thường so với kỳ trước")
    item = text[start:text.index("Xem tại", start)]
    assert "2026-02: 300 → 2026-03: 90" in item
    assert "Số dòng" not in item  # it counts units, not rows


def test_a_piece_is_never_empty_nor_over_the_limit() -> None:
    from alerts.render import _pieces

    pieces = _pieces("x" * 3000 + "\nabc", "en", 2900, 48)
    assert [len(p) for p in pieces] == [2900, 4]  # the long line cut to 2,899 and "…"
    assert pieces[0].endswith("…\n") and pieces[1] == "abc\n"
