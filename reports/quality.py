"""The data-quality page: recent check results, quarantined rows and loads by dataset,
source, unit and period, read from the warehouse's quality tables, as a static offline
HTML page for analysts and reform offices.

`build_quality(conn, ...)` gathers four `reports.tables.Table`s (so that
`reports.exports.write_all` writes them too):
- a summary by dataset and period: checks run and failed, rows quarantined, the status of
  the latest load of each source;
- the failed checks by dataset, source, period, check, severity and unit (the unit's name
  as dim_unit had it on the period's last day);
- the quarantined rows counted by dataset, source, period, unit and reasons;
- the latest load of each dataset, source and period.

Which periods: every type (month, quarter, half, year, year to date) whose last day falls
in the last `months` months, counted back from the latest period present in dq_result,
quarantine_row or load_audit (no later than the month of `now`, so that a year in
progress does not move the window); or, with `since_period_id`, every period ending on or
after that period's first day.

A partition (source, dataset, period) loaded more than once keeps the dq_result rows of
every run; the page counts those of its latest run only, as quarantine_row holds only the
latest load's rows. Of quarantine_row only the unit code and the reasons are ever read:
its rows' contents (row_json) may hold citizens' personal data and never reach the page.

Reads only, with plain SQL DuckDB and PostgreSQL both speak; never imports Airflow.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from reports.settings import Labels
from reports.tables import Column, Table
from warehouse.read import LATEST_RUNS, month_start
from warehouse.read import as_date as _as_date
from warehouse.read import rows as _rows

LABELS_FILE = Path(__file__).with_name("quality_labels.yaml")
REASONS_SHOWN = 300  # characters of a quarantine reason the page shows


class QualityLabels(Labels):
    """The page's labels (reports/quality_labels.yaml)."""

    FILE = LABELS_FILE

    def value(self, prefix: str, code: str | None) -> str:
        """A coded value (a period type, severity, status) in words; unknown codes as is."""
        key = f"{prefix}_{code}"
        return self(key) if self.has(key) else (code or "")


def _col(key: str, fmt: str = "text", label: str | None = None) -> Column:
    """A column whose headers are the label's two languages."""
    vi, en = QualityLabels("vi"), QualityLabels("en")
    return Column(key, vi(label or key), en(label or key), fmt)


def _table(name: str, title: str, columns: Sequence[Column],
           rows: Sequence[Mapping[str, Any]]) -> Table:
    return Table(name, QualityLabels("vi")(title), QualityLabels("en")(title), columns,
                 list(rows))


@dataclass
class QualityPage:
    lang: str
    generated_at: dt.datetime
    since: dt.date
    months: int | None
    summary: Table
    failed: Table
    quarantine: Table
    loads: Table

    def tables(self) -> list[Table]:
        """Every table of the page, in page order (the exports' sheets)."""
        return [self.summary, self.failed, self.quarantine, self.loads]

    @property
    def has_data(self) -> bool:
        return any(t.rows for t in self.tables())

    @property
    def checks_ran(self) -> bool:
        return any(r.get("checks_run") for r in self.summary.rows)


# -- reading --------------------------------------------------------------------------

def _window_start(conn: sa.Connection, since_period_id: int | None, months: int,
                  now: dt.datetime) -> dt.date:
    if since_period_id is not None:
        first = conn.execute(sa.text(
            "SELECT first_day FROM dim_period WHERE period_id = :p"),
            {"p": int(since_period_id)}).scalar()
        if first is None:
            raise LookupError(f"no period {since_period_id} in dim_period")
        return _as_date(first)
    latest = conn.execute(sa.text("""
        SELECT max(p.last_day) FROM dim_period p
        WHERE p.period_id IN (SELECT period_id FROM dq_result
                              UNION SELECT period_id FROM quarantine_row
                              UNION SELECT period_id FROM load_audit)""")).scalar()
    today = now.date()
    end = min(_as_date(latest), today) if latest is not None else today
    return month_start(end, months - 1)


_PERIOD = "p.label AS period, p.period_type, p.first_day, p.last_day"


def _check_counts(conn: sa.Connection, start: dt.date) -> list[dict[str, Any]]:
    """Per (dataset, source, period): the checks its latest run ran, and failed."""
    return _rows(conn, f"""{LATEST_RUNS},
    checks AS (
        SELECT d.dataset, d.source, d.period_id, d.check_name,
               max(CASE WHEN d.success THEN 0 ELSE 1 END) AS failed
        FROM dq_result d
        JOIN latest l ON l.source = d.source AND l.dataset = d.dataset
                     AND l.period_id = d.period_id AND l.run_id = d.run_id
        GROUP BY d.dataset, d.source, d.period_id, d.check_name)
        SELECT c.dataset, c.source, c.period_id, {_PERIOD}, count(*) AS checks_run,
               sum(c.failed) AS checks_failed
        FROM checks c JOIN dim_period p ON p.period_id = c.period_id
        GROUP BY c.dataset, c.source, c.period_id, p.label, p.period_type, p.first_day,
                 p.last_day
        """, start=start.isoformat())


def _failed_checks(conn: sa.Connection, start: dt.date) -> list[dict[str, Any]]:
    return _rows(conn, f"""{LATEST_RUNS}
        SELECT d.dataset, d.source, d.period_id, {_PERIOD}, d.check_name, d.severity,
               d.unit_code, sum(d.unexpected_count) AS unexpected,
               count(d.unexpected_count) AS counted
        FROM dq_result d
        JOIN latest l ON l.source = d.source AND l.dataset = d.dataset
                     AND l.period_id = d.period_id AND l.run_id = d.run_id
        JOIN dim_period p ON p.period_id = d.period_id
        WHERE NOT d.success
        GROUP BY d.dataset, d.source, d.period_id, p.label, p.period_type, p.first_day,
                 p.last_day, d.check_name, d.severity, d.unit_code
        """, start=start.isoformat())


def _quarantined(conn: sa.Connection, start: dt.date) -> list[dict[str, Any]]:
    # Only the unit and the reasons: never row_json, source_unit_id or any other content.
    return _rows(conn, f"""
        SELECT q.dataset, q.source, q.period_id, {_PERIOD}, q.unit_code, q.reasons,
               count(*) AS n
        FROM quarantine_row q JOIN dim_period p ON p.period_id = q.period_id
        WHERE p.last_day >= CAST(:start AS DATE)
        GROUP BY q.dataset, q.source, q.period_id, p.label, p.period_type, p.first_day,
                 p.last_day, q.unit_code, q.reasons
        """, start=start.isoformat())


def _loads(conn: sa.Connection, start: dt.date) -> list[dict[str, Any]]:
    return _rows(conn, f"""
        SELECT a.dataset, a.source, a.period_id, {_PERIOD}, a.run_id, a.status, a.rows_in,
               a.rows_loaded, a.rows_quarantined, a.loaded_at
        FROM load_audit a JOIN dim_period p ON p.period_id = a.period_id
        WHERE p.last_day >= CAST(:start AS DATE)
        ORDER BY a.loaded_at, a.run_id
        """, start=start.isoformat())


def _unit_names(conn: sa.Connection, wanted: Iterable[tuple[str, Any]]
                ) -> dict[tuple[str, dt.date], str]:
    """(unit code, day) → the unit's name in dim_unit on that day, where it has one."""
    wanted = {(code, _as_date(day)) for code, day in wanted if code}
    if not wanted:
        return {}
    versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(conn, sa.text(
            "SELECT unit_code, valid_from, valid_to, name_vi FROM dim_unit "
            "WHERE unit_code IN :codes ORDER BY unit_code, valid_from").bindparams(
            sa.bindparam("codes", expanding=True)), codes=sorted({c for c, _ in wanted})):
        versions[row["unit_code"]].append(row)
    names = {}
    for code, day in wanted:
        for v in versions.get(code, ()):
            if _as_date(v["valid_from"]) <= day and (
                    v["valid_to"] is None or _as_date(v["valid_to"]) > day):
                names[(code, day)] = v["name_vi"]
    return names


# -- building -------------------------------------------------------------------------

def _timestamp(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value or "")


def _recent_first(row: Mapping[str, Any]) -> tuple:
    """Latest periods first; of periods ending the same day, the shortest first."""
    return (-_as_date(row["last_day"]).toordinal(), -_as_date(row["first_day"]).toordinal(),
            row["period_id"])


def _period_cells(row: Mapping[str, Any], t: QualityLabels) -> dict[str, Any]:
    return {"period": row["period"], "period_type": t.value("type", row["period_type"])}


def build_quality(conn: sa.Connection, *, since_period_id: int | None = None,
                  months: int = 12, lang: str = "vi", now: dt.datetime | None = None
                  ) -> QualityPage:
    """Everything the data-quality page shows, in `lang`."""
    t = QualityLabels(lang)
    if not isinstance(months, int) or months < 1:
        raise ValueError(f"months must be a whole number of months, at least 1; got {months!r}")
    now = now or dt.datetime.now(dt.UTC)
    start = _window_start(conn, since_period_id, months, now)

    checks = _check_counts(conn, start)
    failed = _failed_checks(conn, start)
    quarantined = _quarantined(conn, start)
    loads = _loads(conn, start)
    names = _unit_names(conn, [(r["unit_code"], r["last_day"]) for r in
                               (*failed, *quarantined)])

    def unit_name(row: Mapping[str, Any]) -> str | None:
        if not row["unit_code"]:
            return t("whole_dataset")
        return names.get((row["unit_code"], _as_date(row["last_day"])))

    # Latest load per (dataset, source, period); loads come oldest first.
    latest: dict[tuple[str, str, int], dict[str, Any]] = {}
    load_count: dict[tuple[str, str, int], int] = defaultdict(int)
    for row in loads:
        key = (row["dataset"], row["source"], row["period_id"])
        latest[key] = row
        load_count[key] += 1

    # -- summary by dataset × period
    periods: dict[tuple[str, int], dict[str, Any]] = {}
    sources: dict[tuple[str, int], set[str]] = defaultdict(set)
    for row in (*checks, *quarantined, *latest.values()):
        key = (row["dataset"], row["period_id"])
        periods.setdefault(key, row)
        sources[key].add(row["source"])
    counted: dict[tuple[str, int], dict[str, int]] = {}
    for row in checks:  # one row per source: checks are counted per source
        c = counted.setdefault((row["dataset"], row["period_id"]),
                               {"checks_run": 0, "checks_failed": 0})
        c["checks_run"] += int(row["checks_run"])
        c["checks_failed"] += int(row["checks_failed"])
    quarantine_count: dict[tuple[str, int], int] = defaultdict(int)
    for row in quarantined:
        quarantine_count[(row["dataset"], row["period_id"])] += int(row["n"])
    statuses: dict[tuple[str, int], list[str]] = defaultdict(list)
    for (dataset, _source, period_id), row in sorted(latest.items()):
        statuses[(dataset, period_id)].append(row["status"])
    summary_rows = []
    for key, row in sorted(periods.items(), key=lambda kv: (_recent_first(kv[1]), kv[0])):
        c = counted.get(key)
        loaded = key in statuses
        summary_rows.append({
            "dataset": key[0], **_period_cells(row, t),
            "sources": len(sources[key]),
            "checks_run": c["checks_run"] if c else None,
            "checks_failed": c["checks_failed"] if c else None,
            # a load with nothing quarantined is a real 0; no load at all is no data
            "rows_quarantined": quarantine_count[key] if loaded or key in quarantine_count
            else None,
            "last_load_status": _statuses(statuses.get(key, ()), t)})

    failed_rows = [{
        "dataset": r["dataset"], "source": r["source"], **_period_cells(r, t),
        "check": r["check_name"], "severity": t.value("severity", r["severity"]),
        "unit_code": r["unit_code"] or "", "unit": unit_name(r),
        "rows_failing": int(r["unexpected"]) if r["counted"] else None}
        for r in sorted(failed, key=lambda r: (
            _recent_first(r), r["dataset"], r["source"], r["check_name"],
            r["unit_code"] is not None, r["unit_code"] or ""))]

    quarantine_rows = [{
        "dataset": r["dataset"], "source": r["source"], **_period_cells(r, t),
        "unit_code": r["unit_code"] or "", "unit": unit_name(r) if r["unit_code"] else None,
        "reasons": _shorten(r["reasons"]), "rows": int(r["n"])}
        for r in sorted(quarantined, key=lambda r: (
            _recent_first(r), r["dataset"], r["source"], r["unit_code"] or "",
            r["reasons"]))]

    load_rows = [{
        "dataset": r["dataset"], "source": r["source"], **_period_cells(r, t),
        "status": t.value("status", r["status"]), "rows_in": r["rows_in"],
        "rows_loaded": r["rows_loaded"], "rows_quarantined": r["rows_quarantined"],
        "loads": load_count[key], "loaded_at": _timestamp(r["loaded_at"]),
        "run_id": r["run_id"]}
        for key, r in sorted(latest.items(), key=lambda kv: (_recent_first(kv[1]), kv[0]))]

    period = [_col("period"), _col("period_type")]
    return QualityPage(
        lang=lang, generated_at=now, since=start,
        months=None if since_period_id is not None else months,
        summary=_table("quality_summary", "sec_summary", [
            _col("dataset"), *period, _col("sources", "int"), _col("checks_run", "int"),
            _col("checks_failed", "int"), _col("rows_quarantined", "int"),
            _col("last_load_status")], summary_rows),
        failed=_table("quality_failed", "sec_failed", [
            _col("dataset"), _col("source"), *period, _col("check"), _col("severity"),
            _col("unit_code"), _col("unit"), _col("rows_failing", "int")], failed_rows),
        quarantine=_table("quality_quarantine", "sec_quarantine", [
            _col("dataset"), _col("source"), *period, _col("unit_code"), _col("unit"),
            _col("reasons"), _col("rows", "int")], quarantine_rows),
        loads=_table("quality_loads", "sec_loads", [
            _col("dataset"), _col("source"), *period, _col("status"),
            _col("rows_in", "int"), _col("rows_loaded", "int"),
            _col("rows_quarantined", "int"), _col("loads", "int"), _col("loaded_at"),
            _col("run_id")], load_rows))


def _statuses(found: Sequence[str], t: QualityLabels) -> str:
    """The latest loads' statuses of a dataset's sources: one word when they agree, else
    each with how many sources it has."""
    if not found:
        return ""
    counts: dict[str, int] = defaultdict(int)
    for status in found:
        counts[status] += 1
    if len(counts) == 1:
        return t.value("status", found[0])
    return ", ".join(f"{t.value('status', s)} ({n})" for s, n in sorted(counts.items(),
                     key=lambda kv: (kv[0] != "rejected", kv[0])))


def _shorten(reasons: str | None) -> str:
    text = reasons or ""
    return text if len(text) <= REASONS_SHOWN else text[:REASONS_SHOWN - 1] + "…"


# -- rendering ------------------------------------------------------------------------

def render_quality(page: QualityPage) -> str:
    """The page, as one self-contained HTML document."""
    from reports.render import _environment, format_value

    return _environment().get_template("quality.html.j2").render(
        page=page, t=QualityLabels(page.lang), lang=page.lang,
        fmt=lambda v, f: format_value(v, f, page.lang))


def write_quality(page: QualityPage, out_dir: Path) -> Path:
    """Write `<out_dir>/quality.<lang>.html` whole or not at all; return its path."""
    from reports.exports import write_whole

    return write_whole(Path(out_dir) / f"quality.{page.lang}.html",
                       render_quality(page).encode("utf-8"))
