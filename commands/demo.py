"""The main job: simulator + the real DAG (dag.test) over a demo window into DuckDB."""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from commands import embedded_airflow as airflow_env
from domain.periods import Month, month_range
from registry.settings import PROJECT_ROOT, Settings, load_registry
from simulator import FaultPlan, PortalSimulator

# Faults the demo switches on so that retries and quarantine are visible in one run.
DEMO_FAULTS = ('{"rate_limit": 1, "server_error": 2, "repeat_page": 1, "missing_field": 1,'
               ' "bad_values": 1, "unknown_unit": 1, "expire_token": 1, "stats_mismatch": 1,'
               ' "retry_after": 1}')
# Fact DAGs run per month, then the marts DAG rebuilds that month's indicators (on a
# scheduler it runs on their Asset events; dag.test() has no scheduler, so the demo asks).
DAG_IDS = ("national_portal_monthly", "onestop_monthly", "eoffice_monthly", "marts_monthly")
# The province whose offices send their e-office figures as a report file (the others'
# come from their e-office API, config/sources.yaml eoffice.provinces); the first month's
# file has a typing slip, so its rejection and error report show, then a corrected file.
FILE_PROVINCE = "11"
# After each month's runs, the demo runs the alerts as at 08:00 (Vietnam) this many days
# after the month, as the hourly schedule would (the state carries over: no re-sends).
ALERTS_DAYS_AFTER = 5


def run_demo(first: Month, last: Month, data_dir: Path, faults: str = DEMO_FAULTS,
             console: Console | None = None) -> str:
    """Run the demo window; returns the warehouse URL it loaded (REFORMSTATS_WAREHOUSE_URL
    when set, else a DuckDB file in `data_dir`)."""
    import os

    from warehouse.engine import display_url

    console = console or Console()
    # Airflow's API-server imports warn about a test client the demo never uses.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    data_dir = data_dir.resolve()
    warehouse_url = (os.environ.get("REFORMSTATS_WAREHOUSE_URL")
                     or f"duckdb:///{data_dir / 'warehouse.duckdb'}")
    months = month_range(first, last)
    started = time.monotonic()
    from simulator.receivers import Mailbox, WebhookReceiver

    with PortalSimulator(faults=FaultPlan.parse(faults)) as sim, Mailbox() as mailbox, \
            WebhookReceiver() as receiver:
        console.print(f"[bold]Portal simulator[/] on {sim.url} (faults: {faults}); alert "
                      f"e-mail to a local SMTP server ({mailbox.uri}), webhooks to a local "
                      f"receiver ({receiver.url})")
        provinces = sorted(Settings.from_env().sources.onestop.provinces)
        extra = {
            # The simulator can take more than the real portal's ~1 request/s.
            **airflow_env.simulator_connections(
                sim.url, provinces, by="demo",
                national_extra={"rate_per_second": 20, "read_timeout": 10, "page_size": 20},
                onestop_extra={"rate_per_second": 50, "page_size": 500},
                # A fresh key per demo: dossier keys only need to be stable within a run.
                hash_key=secrets.token_hex(32)),
            "REFORMSTATS_DATA_DIR": str(data_dir),
            "REFORMSTATS_WAREHOUSE_URL": warehouse_url,
            **alert_receivers(mailbox, receiver),
        }
        from warehouse.migrate import upgrade

        before, after = upgrade(warehouse_url)
        done = f"{before or 'empty'} -> {after}" if before != after else f"at {after}"
        console.print(f"Warehouse {display_url(warehouse_url)}: schema {done} (`reformstats "
                      "db upgrade`, which every DAG's first task runs too)")
        import_office_points(Settings(config_dir=Settings.from_env().config_dir,
                                      data_dir=data_dir, warehouse_url=warehouse_url),
                             months, provinces, console)
        console.print("Preparing embedded Airflow (SQLite metadata) …")
        airflow_env.configure(data_dir / "airflow", extra)
        dags = [airflow_env.load_dag(dag_id) for dag_id in DAG_IDS]
        alerts_dag = airflow_env.load_dag("alerts_hourly")
        inbox_dag = airflow_env.load_dag("eoffice_inbox")
        demo_settings = Settings(config_dir=Settings.from_env().config_dir, data_dir=data_dir,
                                 warehouse_url=warehouse_url)
        for month in months:
            sim.world.published_through = month  # the portal as it is when the month ends
            # and the pipeline as it runs then, in the month after (what year to date it
            # can still ask for: registry.runtime.present)
            os.environ["REFORMSTATS_AS_OF"] = f"{month.next().first_day.isoformat()}T08:00"
            for dag in dags:
                if dag.dag_id == "marts_monthly":  # the offices' files are in by then
                    take_office_reports(sim, demo_settings, inbox_dag, month,
                                        month == months[0], console)
                t0 = time.monotonic()
                run = airflow_env.run_month(dag, month)
                state = str(getattr(run, "state", run))
                console.print(f"  {dag.dag_id} {month}: [bold]{state}[/] "
                              f"({time.monotonic() - t0:.1f}s)")
                if "success" not in state:
                    raise SystemExit(f"{dag.dag_id} run for {month} ended {state}; "
                                     "see the log above")
            run_alerts_month(alerts_dag, month, warehouse_url, console)
        fired = dict(sim.faults.fired)
        mails, posts = list(mailbox.mails), list(receiver.posts)
    console.print(f"Faults the simulator fired: {fired}")
    print_summary(warehouse_url, months[-1], console)
    print_reports(data_dir, months[-1], console)
    print_alerts(warehouse_url, mails, posts, console)
    console.print(f"\nDone in {time.monotonic() - started:.0f}s.")
    return warehouse_url


def take_office_reports(sim: PortalSimulator, settings: Settings, inbox_dag: Any,
                        month: Month, with_slip: bool, console: Console) -> None:
    """The offices of FILE_PROVINCE drop their month's e-office report into the inbox
    (with a typing slip first, when `with_slip`: rejected, then the corrected file), and
    the eoffice_inbox DAG (dag.test) takes them."""
    import datetime as dt
    import os

    from simulator.offices import eoffice_report

    units = [u for u in sim.onestop.world.units_of(FILE_PROVINCE, month)
             if u.level != "department"]  # departments: by their agency codes, not here
    rows = [(u.unit_code, u.name_vi, sim.eoffice.world.counts(u, month))
            for u in sorted(units, key=lambda u: u.unit_code)]
    inbox = settings.eoffice_folder("inbox")
    name = f"bao_cao_van_ban_{FILE_PROVINCE}_{month}.xlsx"
    for slip in ((True, False) if with_slip else (False,)):
        path = eoffice_report(inbox / name, month, rows, break_row=3 if slip else None)
        # dropped a while ago: the inbox takes files that have settled
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).timestamp()
        os.utime(path, (past, past))
        t0 = time.monotonic()
        run = inbox_dag.test()
        taken = sorted(settings.eoffice_folder("archive" if not slip else "rejected")
                       .rglob(f"*{name}"))
        console.print(f"  eoffice_inbox ({name}{', with a typing slip' if slip else ''}): "
                      f"[bold]{getattr(run, 'state', run)}[/] ({time.monotonic() - t0:.1f}s)"
                      f" -> {taken[-1] if taken else 'still in the inbox'}",
                      soft_wrap=True)
        reports = sorted(settings.eoffice_folder("rejected").glob(f"*{name}.loi.txt"))
        for report in reports[-1:] if slip else []:
            lines = report.read_text(encoding="utf-8").splitlines()
            console.print(f"    {report.name}: {lines[2]}", markup=False, soft_wrap=True)


def print_summary(warehouse_url: str, last: Month, console: Console) -> None:
    """What the demo loaded, read back as an analyst would (SQL both engines speak)."""
    import sqlalchemy as sa

    from warehouse.engine import display_url, duckdb_path, make_engine

    engine = make_engine(warehouse_url, read_only=True)
    with engine.connect() as conn:

        def query(sql: str) -> sa.CursorResult:
            return conn.execute(sa.text(sql))

        table = Table(title="Warehouse rows")
        table.add_column("table")
        table.add_column("rows", justify="right")
        loaded = [d.table for d in load_registry() if d.table]  # every dataset's table
        for name in ("dim_unit", "unit_source_id", "unit_crosswalk", "unit_match_issue",
                     "dim_procedure", "dim_scheme", "dim_criterion", "fact_manual_points",
                     *loaded, "fact_scheme_result", "fact_766_reconciliation",
                     "quarantine_row", "dq_result", "load_audit"):
            table.add_row(name, str(query(f"SELECT count(*) FROM {name}").fetchone()[0]))
        console.print(table)

        quarantined = query("""SELECT q.dataset, p.label,
                                       coalesce(q.unit_code, q.source_unit_id), q.reasons
                                FROM quarantine_row q JOIN dim_period p USING (period_id)
                                ORDER BY p.last_day, q.dataset""").fetchall()
        q = Table(title=f"Quarantined rows ({len(quarantined)})")
        for col in ("dataset", "period", "unit / source ID", "reasons"):
            q.add_column(col)
        for dataset, period, unit, reasons in quarantined:
            q.add_row(dataset, str(period), unit or "?", reasons)
        console.print(q)

        periods = query("""SELECT period_label, count(*) FILTER (WHERE unit_level =
                                       'province'), count(*) FILTER (WHERE unit_level =
                                       'department'), count(*) FILTER (WHERE unit_level =
                                       'commune'), round(avg(total_score), 2)
                                FROM v_portal_score GROUP BY period_label
                                ORDER BY min(last_day), min(period_type)""").fetchall()
        t = Table(title="766 scores loaded, by period (each a partition of its own)")
        for col in ("period", "provinces", "departments", "communes", "mean total"):
            t.add_column(col, justify="right")
        for row in periods:
            t.add_row(*(str(v) for v in row))
        console.print(t)
        for title, order in (("Top 5", "DESC"), ("Bottom 5", "ASC")):
            rows = query(f"""SELECT unit_code, unit_name_vi, unit_level, total_score
                              FROM v_portal_score WHERE period_id = {last.period_id}
                                AND unit_level <> 'province'
                              ORDER BY total_score {order}, unit_code LIMIT 5""").fetchall()
            t = Table(title=f"{title} units by 766 total score, {last}")
            for col in ("unit", "name", "level", "score"):
                t.add_column(col)
            for code, name, level, score in rows:
                t.add_row(code, name or "", level or "", f"{score:.2f}")
            console.print(t)
        shown = ("on_time_rate", "online_intake_rate", "digitised_inputs_rate",
                 "online_payment_rate", "postal_return_rate")
        rows = query(f"""
            SELECT province_code, indicator_code,
                   CAST(sum(numerator) AS DOUBLE PRECISION) / nullif(sum(denominator), 0)
            FROM fact_indicator_monthly
            WHERE period_id = {last.period_id} AND indicator_code IN {shown}
            GROUP BY province_code, indicator_code""").fetchall()
        values = {(p, code): v for p, code, v in rows}
        t = Table(title=f"One-stop indicators by province, {last} (ratios of summed counters)")
        t.add_column("province")
        for code in shown:
            t.add_column(code.removesuffix("_rate").replace("_", " "), justify="right")
        for province in sorted({p for p, _ in values}):
            cells = [values.get((province, code)) for code in shown]
            t.add_row(province, *("—" if v is None else f"{100 * v:.1f}%" for v in cells))
        console.print(t)
        names = query(f"SELECT indicator_code, name_vi FROM dim_indicator "
                           f"WHERE indicator_code IN {shown} ORDER BY 1").fetchall()
        console.print("; ".join(f"{code}: {name}" for code, name in names), markup=False)
        failed = query("""SELECT period_id, source, check_name, unexpected_count, details
                               FROM dq_result WHERE NOT success AND check_name LIKE 'cross%'
                                 AND unit_code IS NULL  -- the partition-level results
                               ORDER BY period_id, source""").fetchall()
        for period, source, check, count, details in failed:
            console.print(f"Cross-check {period} {source} {check}: {count} unit(s) differ "
                          f"{details}", markup=False)
        print_documents(query, last, console)
        print_scores(query, last, console)
    engine.dispose()
    console.print(f"\nWarehouse: [bold]{display_url(warehouse_url)}[/]")
    path = duckdb_path(warehouse_url)
    if path is not None:
        console.print("Try:", soft_wrap=True)
        console.print("  .venv/bin/python -c \"import duckdb; print(duckdb.connect("
                      f"'{path}', read_only=True).sql('SELECT period_label, unit_level, "
                      "round(avg(total_score), 2) AS avg_score FROM v_portal_score GROUP BY "
                      "ALL ORDER BY ALL'))\"", soft_wrap=True, markup=False)

def print_documents(query: Callable[[str], Any], last: Month, console: Console) -> None:
    """The last month's e-office figures by province and channel (API or report file),
    with the ratios the e-office indicators take."""
    rows = query(f"""
        SELECT d.province_code, d.channel, count(*) AS units,
               sum(outgoing), sum(outgoing_signed), sum(hub_sent), sum(work_files),
               sum(work_files_online)
        FROM fact_document_monthly d WHERE period_id = {last.period_id}
        GROUP BY d.province_code, d.channel ORDER BY d.province_code, d.channel""").fetchall()
    t = Table(title=f"E-office documents, {last}: by API and by report file",
              caption="signed / hub / online: ratios of summed counts (the indicators "
                      "signed_document_rate, hub_exchange_rate, work_files_online_rate)")
    for col in ("province", "channel", "units", "outgoing", "signed", "hub", "work files",
                "online"):
        t.add_column(col, justify="left" if col in ("province", "channel") else "right")
    for province, channel, units, out, signed, hub, files, online in rows:
        t.add_row(province, channel, str(units), str(out),
                  f"{100 * signed / out:.1f}%" if out else "—",
                  f"{100 * hub / out:.1f}%" if out else "—", str(files),
                  f"{100 * online / files:.1f}%" if files else "—")
    console.print(t)


def alerts_as_at(month: Month) -> Any:
    """When the demo runs the alerts for a month: 08:00 (Vietnam) a few days after it."""
    import datetime as dt

    from domain.periods import VN_TZ

    return dt.datetime.combine(month.next().first_day
                               + dt.timedelta(days=ALERTS_DAYS_AFTER - 1), dt.time(8), VN_TZ)


def alert_receivers(mailbox: Any, receiver: Any) -> dict[str, str]:
    """The environment that points the alerts' channels (config/alerts.yaml) at the local
    SMTP server and webhook receiver: the SMTP Connection and each webhook's variable."""
    from alerts.routing import load_routing

    routing = load_routing(Settings.from_env().config_dir)
    hooks = {c.url_env: c.format for r in routing.routes.values() for c in r.channels
             if c.type == "webhook"}
    return {f"AIRFLOW_CONN_{routing.smtp_connection_id.upper()}": mailbox.uri,
            **{variable: f"{receiver.url}/{fmt}/{variable.lower()}"
               for variable, fmt in hooks.items()}}


def run_alerts_month(dag: Any, month: Month, warehouse_url: str, console: Console) -> None:
    """The alerts_hourly DAG (dag.test) as the month's alerts would run; one line: the
    messages it made, by kind."""
    import sqlalchemy as sa

    from warehouse.engine import make_engine
    from warehouse.schema import alert_message

    at = alerts_as_at(month)
    t0 = time.monotonic()
    run = dag.test(run_conf={"at": at.isoformat()})
    engine = make_engine(warehouse_url, read_only=True)
    with engine.connect() as conn:
        made = dict(conn.execute(
            sa.select(alert_message.c.kind, sa.func.count(sa.distinct(alert_message.c.subject)))
            .where(alert_message.c.created_at == at).group_by(alert_message.c.kind)).fetchall())
    engine.dispose()
    console.print(f"  alerts_hourly as at {at:%Y-%m-%d %H:%M}: [bold]"
                  f"{getattr(run, 'state', run)}[/] ({time.monotonic() - t0:.1f}s; messages: "
                  + (", ".join(f"{n} {kind}" for kind, n in sorted(made.items())) or "none")
                  + ")")


def print_alerts(warehouse_url: str, mails: list[Any], posts: list[Any],
                 console: Console) -> None:
    """What the alerts runs opened and delivered over the window, and the shortest e-mail
    a reform office got, as it reads it."""
    import sqlalchemy as sa
    from rich.markup import escape

    from alerts.routing import load_routing
    from warehouse.engine import make_engine
    from warehouse.schema import alert_message, alert_state

    routing = load_routing(Settings.from_env().config_dir)
    engine = make_engine(warehouse_url, read_only=True)
    with engine.connect() as conn:
        opened = conn.execute(sa.select(alert_state.c.route, alert_state.c.kind,
                                        alert_state.c.status, sa.func.count())
                              .group_by(alert_state.c.route, alert_state.c.kind,
                                        alert_state.c.status)
                              .order_by(alert_state.c.route, alert_state.c.kind,
                                        alert_state.c.status)).fetchall()
        sent = conn.execute(sa.select(alert_message.c.route, alert_message.c.kind,
                                      alert_message.c.status, sa.func.count(),
                                      sa.func.sum(alert_message.c.alerts))
                            .group_by(alert_message.c.route, alert_message.c.kind,
                                      alert_message.c.status)
                            .order_by(alert_message.c.route, alert_message.c.kind)).fetchall()
    engine.dispose()
    t = Table(title="Alerts by route, kind and state",
              caption="open: still failing; resolved: cleared, a recovery was sent; "
                      "expired: its period left the look-back window")
    for col in ("route", "kind", "state", "alerts"):
        t.add_column(col)
    for route, kind, status, count in opened:
        t.add_row(route, kind, status, str(count))
    console.print(t)
    t = Table(title="Alert messages over the window",
              caption=f"{len(mails)} e-mails and {len(posts)} webhook posts received by the "
                      "local receivers")
    for col in ("route", "kind", "status", "messages (one per channel)", "alerts in them"):
        t.add_column(col)
    for row in sent:
        t.add_row(*(escape(str(v)) for v in row))
    console.print(t)
    ops = {a for c in routing.ops.channels for a in c.to}
    offices = [m for m in mails if not set(m.recipients) & ops]
    if offices:
        mail = min(offices, key=lambda m: len(m.text))
        console.rule(f"The shortest e-mail an office got, to {', '.join(mail.recipients)}")
        console.print(mail.subject, markup=False, highlight=False, soft_wrap=True)
        console.print(mail.text, markup=False, highlight=False, soft_wrap=True)


SHOWN_SCHEME = "par_commune_example"


def print_reports(data_dir: Path, last: Month, console: Console) -> None:
    """The scorecards the marts DAG's report task wrote for the last month."""
    from reports.publish import STEM

    found = sorted((data_dir / "reports").glob(f"*/{last}/{STEM}.*.html"))
    if not found:
        console.print(f"No scorecard was written for {last}: see the marts_monthly "
                      "run's report task in the log above")
        return
    console.print(f"\nScorecards of {last} (open the .html in a browser; it needs no "
                  "network), with their Excel workbooks:")
    for page in found:
        console.print(f"  {page.parent.parent.name}: {page}", soft_wrap=True, markup=False)
        console.print(f"      {page.with_suffix('.xlsx')}", soft_wrap=True, markup=False)


def import_office_points(settings: Settings, months: list[Month], provinces: list[str],
                         console: Console) -> None:
    """The communes' self-assessment and the province's first appraisal of the commune
    set, for every year of the window: the blank sheet written by `scoring template`, filled
    in by simulated offices, imported by `scoring import`'s code (before the runs, so every
    month's scores count them)."""
    from domain.periods import Period
    from marts.manual_points import manual_leaves
    from simulator.offices import fill_sheet
    from steps.manual_points import import_points, rule_set_for, template

    sheets = settings.data_dir / "office_sheets"
    for year in sorted({m.year for m in months}):
        period = Period("year", year, 0)
        try:
            rule_set = rule_set_for(settings, SHOWN_SCHEME, period, "self_assessment")
        except (KeyError, ValueError):
            continue  # the set is not in force that year
        booleans = {c.code for c in manual_leaves(rule_set) if c.method == "boolean"}
        for round_name in ("self_assessment", "appraisal_1"):
            blank = sheets / f"{SHOWN_SCHEME}_{year}_{round_name}_blank.xlsx"
            filled = sheets / f"{SHOWN_SCHEME}_{year}_{round_name}.xlsx"
            template(settings, SHOWN_SCHEME, period, round_name, blank, provinces)
            fill_sheet(blank, filled, round_name=round_name, boolean_criteria=booleans)
            result = import_points(filled, SHOWN_SCHEME, period, round_name,
                                   "demo (simulated offices)", settings)
            console.print(f"Manual points {SHOWN_SCHEME} {year} {round_name}: {result.rows} "
                          f"rows from {filled.name}")


def print_scores(query: Callable[[str], Any], last: Month, console: Console) -> None:
    """The commune set's top and bottom units of the last month in the province with the
    most communes scored, and how the recomputed 766 compares with the published."""
    group = query(f"""SELECT province_code, count(*) FROM fact_scheme_result
                      WHERE scheme = '{SHOWN_SCHEME}' AND period_id = {last.period_id}
                      GROUP BY province_code ORDER BY 2 DESC, 1 LIMIT 1""").fetchone()
    if group is None:
        console.print(f"No {SHOWN_SCHEME} results for {last}.")
        return
    province, count = group
    for title, order in (("Top 5", "ASC"), ("Bottom 5", "DESC")):
        rows = query(f"""SELECT peer_rank, unit_code, unit_name_vi, total_points, percent,
                                class_name_vi, rank_change, criteria_without_input
                         FROM v_scheme_ranking WHERE scheme = '{SHOWN_SCHEME}'
                           AND period_id = {last.period_id} AND province_code = '{province}'
                         ORDER BY peer_rank {order}, unit_code LIMIT 5""").fetchall()
        t = Table(title=f"{title} of {count} communes of province {province}, {SHOWN_SCHEME} "
                        f"(example set), {last}")
        for col in ("rank", "unit", "name", "total", "%", "class", "rank change (+ rose)",
                    "no input"):
            t.add_column(col, justify="right" if col not in ("unit", "name", "class")
                         else "left")
        for rank, code, name, total, percent, klass, change, missing in rows:
            t.add_row(str(rank), code, name or "", f"{total:.2f}", f"{percent:.2f}",
                      klass or "—", "—" if change is None else f"{change:+d}", str(missing))
        console.print(t)
    gaps = query(f"""SELECT level, count(*), count(gap), max(abs(gap)),
                            count(*) FILTER (WHERE abs(gap) > 0.01)
                     FROM fact_766_reconciliation WHERE period_id = {last.period_id}
                     GROUP BY level ORDER BY level""").fetchall()
    for level, rows, compared, worst, beyond in gaps:
        console.print(f"766 recomputed vs published, {last}, {level}s: {compared} of {rows} "
                      f"compared, largest gap {worst or 0:.2f}, {beyond} above 0.01"
                      + (" (CLGQ and TTTT publish no metrics: not recomputed)"
                         if level == "component" else ""))


DEFAULT_DATA_DIR = PROJECT_ROOT / "data" / "demo"
