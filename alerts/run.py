"""One alerts run: what is open now -> state and outbox (one transaction) -> delivery.

`run_alerts` is what the `alerts` DAG and `reformstats alerts run` call; `send_ops` is what
the ops notifier calls when a task or a run fails. Both return what they did, counted.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from alerts.deliver import SmtpSettings, deliver_rows, smtp_from_environment
from alerts.evaluate import open_alerts, window_start
from alerts.render import Message, Pages, compose, compose_ops
from alerts.routing import OPS, Routing, load_routing
from alerts.state import digest_due, enqueue, pending, reconcile, record_attempts
from domain.periods import VN_TZ, vietnam_time
from registry.settings import Settings

log = logging.getLogger("reformstats.alerts")


def reports_location(settings: Settings, routing: Routing) -> Pages:
    """Where alert links point: the published reports URL, else the reports folder; in
    the languages the reports are written in."""
    from reports.settings import ReportSettings

    report = ReportSettings.from_file(settings.config_dir / "reports.yaml")
    base = routing.reports_url or str((settings.data_dir / report.out_dir).resolve())
    return Pages(base, report.languages)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_at(text: str) -> dt.datetime:
    """A time to evaluate alerts as at, from ISO text; Vietnam time when it has no
    offset. Raises ValueError on anything else."""
    return vietnam_time(text)


def run_alerts(settings: Settings, *, now: dt.datetime | None = None,
               smtp: SmtpSettings | None = None, deliver: bool = True,
               clock: Callable[[], dt.datetime] | None = None) -> dict[str, Any]:
    """Evaluate, reconcile, queue and deliver; returns the counts and the messages made.
    `now` is the run's time (tests and the demo set it); `smtp` defaults to the
    Connection named in config/alerts.yaml, read from the environment."""
    from warehouse.engine import transaction

    routing = load_routing(settings.config_dir)
    now = now or _utc_now()
    clock = clock or (lambda: now)
    smtp = smtp or smtp_from_environment(routing.smtp_connection_id)
    reports = reports_location(settings, routing)
    today = now.astimezone(VN_TZ).date()
    day_start = dt.datetime.combine(today, dt.time(), VN_TZ)
    made: list[Message] = []
    with transaction(settings.warehouse_url) as conn:
        routed = open_alerts(conn, routing, settings.registry, {
            "onestop": settings.sources.onestop.provinces,
            "eoffice": settings.sources.eoffice.provinces}, now)
        decided = reconcile(conn, routed, routing, now,
                            window_start(today, routing.lookback_months))
        for code, alerts in decided.send.items():
            made.append(compose(routing.route(code), "alert", alerts, reports=reports,
                                now=now, resent=decided.resent.get(code, set())))
        for code, alerts in decided.recovered.items():
            made.append(compose(routing.route(code), "recovery", alerts, reports=reports,
                                now=now))
        for code, alerts in decided.open_now.items():
            since = decided.since.get(code, {})
            sending = {a.fingerprint for a in decided.send.get(code, [])}
            # the digest lists what was opened before today and is not in this run's
            # alert message already (a re-send is that route's reminder)
            older = [a for a in alerts if since.get(a.fingerprint, now) < day_start
                     and a.fingerprint not in sending]
            if older and digest_due(conn, code, now, routing.digest_hour):
                made.append(compose(routing.route(code), "digest", alerts, reports=reports,
                                    now=now, since=since))
        queued = sum(enqueue(conn, m, [c.name for c in routing.route(m.route).channels], now)
                     for m in made)
    for message in made:
        log.info("alert message %s to %s: %s (%d alerts)", message.kind, message.route,
                 message.subject, len(message.alerts))
    delivery = deliver_outbox(settings, routing, smtp, clock) if deliver else Counter()
    return {"at": now.isoformat(), **decided.counts, "queued": queued,
            "delivery": dict(delivery),
            "messages": [{"route": m.route, "kind": m.kind, "subject": m.subject,
                          "alerts": len(m.alerts), "text": m.text} for m in made]}


def deliver_outbox(settings: Settings, routing: Routing, smtp: SmtpSettings | None,
                   clock: Callable[[], dt.datetime]) -> Counter[str]:
    """Try every pending message that is due; record each attempt. Never raises for a
    receiver's fault."""
    from warehouse.engine import transaction

    with transaction(settings.warehouse_url) as conn:
        rows = pending(conn, clock())
    results = deliver_rows(rows, routing, smtp, clock)
    if results:
        with transaction(settings.warehouse_url) as conn:
            record_attempts(conn, results)
    counted = Counter(r["status"] for r in results)
    counted["waiting"] = len(rows) - len(results)
    return counted


def send_ops(settings: Settings, failure: Mapping[str, Any], *,
             smtp: SmtpSettings | None = None, now: dt.datetime | None = None
             ) -> Counter[str]:
    """An ops message about a failed task or run, sent at once (even when the warehouse is
    what failed); what could not be delivered goes to the outbox for the next alerts run
    when the warehouse takes it. Never raises: a notifier must not fail its callback."""
    import json

    from alerts.state import outbox_rows
    from warehouse.engine import transaction
    from warehouse.schema import alert_message

    log.error("ALERT ops %s", json.dumps(dict(failure), ensure_ascii=False, default=str))
    try:
        routing = load_routing(settings.config_dir)
        now = now or _utc_now()
        smtp = smtp or smtp_from_environment(routing.smtp_connection_id)
        message = compose_ops(routing.ops, failure, now)
        rows = outbox_rows(message, [c.name for c in routing.ops.channels], now)
        results = {r["message_id"]: r for r in deliver_rows(rows, routing, smtp,
                                                            lambda: now, budget_seconds=15)}
    except Exception as exc:  # the failure is in the task log already
        log.error("could not send the ops alert: %s", type(exc).__name__)
        return Counter({"error": 1})
    kept = [{**row, **results.get(row["message_id"], {})} for row in rows]
    if any(row["status"] != "delivered" for row in kept):
        try:
            import sqlalchemy as sa

            with transaction(settings.warehouse_url) as conn:
                conn.execute(sa.insert(alert_message), kept)
        except Exception as exc:
            log.error("the ops alert could not be kept for a later try: %s",
                      type(exc).__name__)
    return Counter(row["status"] for row in kept)


__all__ = ["OPS", "as_at", "deliver_outbox", "run_alerts", "send_ops"]
