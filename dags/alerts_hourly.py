"""Alerts (cảnh báo), hourly: data quality, rejected loads, late sources and missed targets, to the
reform offices that oversee each unit and to ops (routing: config/alerts.yaml).

Every hour (Vietnam time), and whenever a load or the marts publish their Asset:
migrate -> open_alerts (what is open now against the state in the warehouse: new alerts,
re-sends after the suppression interval, recoveries, the daily digest; all queued in the
outbox in one transaction) -> deliver (e-mail and webhooks, short timeouts; what a
receiver refuses waits in the outbox and is tried again by the next run). One run at a
time: the state is a single writer's. Run it by hand with `reformstats alerts run`, or
trigger it with conf {"at": "2026-04-06T08:00:00+07:00"} to evaluate as at that time.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, Param, task

from plugins.assets import asset_of
from plugins.monthly import migrate_warehouse, pipeline_dag
from plugins.notifiers import fail_fast
from registry.settings import load_registry

# every table a load or the marts publish: data quality, rejected loads and targets change
WATCHED = [asset_of(d) for d in load_registry() if d.table and d.enabled]


@task
@fail_fast()
def open_alerts(params=None) -> dict:
    """Evaluate and queue (no delivery): counts opened, re-sent, suppressed, resolved."""
    from alerts.run import as_at, run_alerts
    from plugins.hooks import pipeline_settings, smtp_settings

    at = (params or {}).get("at")
    settings = pipeline_settings()
    done = run_alerts(settings, smtp=smtp_settings(settings), deliver=False,
                      now=as_at(at) if at else None)
    done.pop("messages")
    return done


@task
@fail_fast()
def deliver(opened: dict) -> dict:
    """Send what is due in the outbox; a receiver that is down never fails the task."""
    import datetime as dt

    from alerts.routing import load_routing
    from alerts.run import deliver_outbox
    from plugins.hooks import pipeline_settings, smtp_settings

    settings = pipeline_settings()
    counted = deliver_outbox(settings, load_routing(settings.config_dir),
                             smtp_settings(settings), lambda: dt.datetime.now(dt.UTC))
    return {"queued": opened.get("queued", 0), **counted}


# One run at a time, and a hung one (a receiver that never answers) gives way within the
# hour instead of holding the next runs for the 12 hours of the loading DAGs.
@pipeline_dag("alerts_hourly", doc=__doc__, tags=["reformstats", "alerts"], max_active_runs=1,
              dagrun_timeout=dt.timedelta(minutes=45),
              schedule=AssetOrTimeSchedule(
                  timetable=CronTriggerTimetable("0 * * * *", timezone="Asia/Ho_Chi_Minh"),
                  assets=AssetAny(*WATCHED)),
              params={"at": Param(None, type=["null", "string"], description=(
                  "evaluate as at this time (ISO; Vietnam time without an offset); empty: "
                  "now. For replays and the demo."))})
def alerts_hourly() -> None:
    opened = open_alerts()
    migrate_warehouse() >> opened
    deliver(opened)


alerts_hourly()
