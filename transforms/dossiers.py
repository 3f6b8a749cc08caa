"""Dossier-level data (hồ sơ): the minimised schema, and monthly counters computed from it.

`DOSSIER_SCHEMA` is what a one-stop client hands on after personal data has been dropped
and the dossier ID replaced by a keyed hash: nothing in it identifies a citizen.

`monthly_counters` applies the official period semantics (shared/domain/INDICATORS.md) to
the dossiers of one month. It is a pure function of its input (DuckDB is used as an
in-process vectorised engine, with a memory limit, over Arrow tables or Parquet files), so
the same dossiers always give the same counters and a partition can be recomputed at will.

Period semantics, for unit U, procedure P and month M = [S, E) in Asia/Ho_Chi_Minh time:
- a dossier's terminal event is the first of finished / returned / withdrawn;
- active in M: received before E and no terminal event before S;
- carried_over: active and received before S (in progress, waiting or paused at S);
- received_*: received in [S, E), by intake channel (1 in person, 2 online, 3 postal);
- resolved_*: finished in [S, E). The promised date is moved by the days the applicant spent
  supplying documents (`supplement_days`); end date (a date, not a time) before it is early,
  equal (or no promised date) on time, after it late; more than one request for
  additional documents makes the dossier late whatever the dates;
- paused: active, no terminal event before E, paused before E;
- in_progress_on_time / _overdue: active, no terminal event before E, not paused; on time
  if there is no promised date or it is on or after the last day of M;
- returned / withdrawn: returned (trả lại, từ chối) / withdrawn in [S, E);
- results_returned_postal: resolved in [S, E) with the result returned by public postal
  service, whenever it is mailed (a September result mailed on 1 October counts for
  September): the numerator of postal_return_rate counts a subset of its denominator's
  dossiers (resolved in M), never another population.
Which of these are stocks (states at a month's start or end, never summed over months) is
declared in the dataset registry (config/datasets.yaml, `dossiers.stocks`).
Balance, per unit and procedure: carried_over + received_total = resolved_total +
in_progress_on_time + in_progress_overdue + paused + returned + withdrawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from domain.periods import VN_TZ, Month

TIMEZONE = "Asia/Ho_Chi_Minh"

DOSSIER_SCHEMA = pa.schema([
    ("dossier_key", pa.string()),          # keyed hash of the source's dossier ID
    ("source_unit_id", pa.string()),       # the source's agency ID
    ("unit_code", pa.string()),            # our unit (agency code), via the crosswalk
    ("procedure_code", pa.string()),       # TTHC code, e.g. 1.001234
    ("intake_channel", pa.int8()),         # 1 in person, 2 online, 3 public postal service
    ("received_at", pa.timestamp("us", tz="UTC")),
    ("promised_date", pa.date32()),        # promised return date (local), may be null
    ("finished_at", pa.timestamp("us", tz="UTC")),    # processing ended (resolved)
    ("returned_at", pa.timestamp("us", tz="UTC")),    # returned / refused
    ("withdrawn_at", pa.timestamp("us", tz="UTC")),
    ("paused_at", pa.timestamp("us", tz="UTC")),
    ("result_returned_at", pa.timestamp("us", tz="UTC")),
    ("result_channel", pa.int8()),         # 1 in person, 2 online, 3 public postal service
    ("additional_requests", pa.int16()),   # requests for additional documents
    ("supplement_days", pa.int16()),       # days the applicant spent supplying them
    ("inputs_digitised", pa.bool_()),
    ("result_digitised", pa.bool_()),
    ("e_result", pa.bool_()),              # an electronic result was issued
    ("fee_bearing", pa.bool_()),           # the procedure has a fee or charge
    ("paid_online", pa.bool_()),
    ("synced_to_portal", pa.bool_()),      # synchronised to the national portal
    ("parse_errors", pa.string()),         # values the source sent that could not be read
])

COUNTER_COLUMNS = [
    "carried_over",
    "received_total", "received_in_person", "received_online", "received_postal",
    "resolved_total", "resolved_early", "resolved_on_time", "resolved_late",
    "in_progress_on_time", "in_progress_overdue", "paused", "returned", "withdrawn",
    "results_returned_postal", "received_inputs_digitised", "resolved_result_digitised",
    "resolved_e_result", "received_fee_bearing", "received_paid_online", "received_synced",
]

_COUNTERS_SQL = """
WITH d AS (
    SELECT unit_code, procedure_code, intake_channel, result_channel,
           coalesce(additional_requests, 0) AS additional_requests,
           promised_date + CAST(coalesce(supplement_days, 0) AS INTEGER) AS due_date,
           inputs_digitised, result_digitised, e_result, fee_bearing, paid_online,
           synced_to_portal,
           timezone('{tz}', received_at) AS received,
           timezone('{tz}', finished_at) AS finished,
           timezone('{tz}', returned_at) AS returned,
           timezone('{tz}', withdrawn_at) AS withdrawn,
           timezone('{tz}', paused_at) AS paused,
           timezone('{tz}', least(finished_at, returned_at, withdrawn_at)) AS terminal
    FROM {source}
    WHERE received_at < TIMESTAMPTZ '{end_utc}'
      AND coalesce(least(finished_at, returned_at, withdrawn_at),
                   TIMESTAMPTZ '{end_utc}') >= TIMESTAMPTZ '{start_utc}'
), f AS (
    SELECT *,
           (terminal IS NULL OR terminal >= TIMESTAMP '{start}') AS is_active,
           received >= TIMESTAMP '{start}' AS is_received,
           finished >= TIMESTAMP '{start}' AND finished < TIMESTAMP '{end}' AS is_resolved,
           (terminal IS NULL OR terminal >= TIMESTAMP '{end}') AS open_at_end,
           CAST(finished AS DATE) AS end_date
    FROM d
    WHERE received < TIMESTAMP '{end}'
), g AS (
    SELECT *,
           is_resolved AND (additional_requests > 1
                            OR (due_date IS NOT NULL AND end_date > due_date)) AS is_late,
           open_at_end AND paused IS NOT NULL AND paused < TIMESTAMP '{end}' AS is_paused
    FROM f
)
SELECT unit_code, procedure_code, {period_id} AS period_id,
    count(*) FILTER (WHERE is_active AND NOT is_received) AS carried_over,
    count(*) FILTER (WHERE is_received) AS received_total,
    count(*) FILTER (WHERE is_received AND intake_channel = 1) AS received_in_person,
    count(*) FILTER (WHERE is_received AND intake_channel = 2) AS received_online,
    count(*) FILTER (WHERE is_received AND intake_channel = 3) AS received_postal,
    count(*) FILTER (WHERE is_resolved) AS resolved_total,
    count(*) FILTER (WHERE is_resolved AND NOT is_late AND end_date < due_date)
        AS resolved_early,
    count(*) FILTER (WHERE is_resolved AND NOT is_late
                     AND (due_date IS NULL OR end_date >= due_date)) AS resolved_on_time,
    count(*) FILTER (WHERE is_late) AS resolved_late,
    count(*) FILTER (WHERE open_at_end AND NOT is_paused
                     AND (due_date IS NULL OR due_date >= DATE '{last_day}'))
        AS in_progress_on_time,
    count(*) FILTER (WHERE open_at_end AND NOT is_paused AND due_date < DATE '{last_day}')
        AS in_progress_overdue,
    count(*) FILTER (WHERE is_paused) AS paused,
    count(*) FILTER (WHERE returned >= TIMESTAMP '{start}' AND returned < TIMESTAMP '{end}'
                     AND returned = terminal) AS returned,
    count(*) FILTER (WHERE withdrawn >= TIMESTAMP '{start}' AND withdrawn < TIMESTAMP '{end}'
                     AND withdrawn = terminal) AS withdrawn,
    count(*) FILTER (WHERE is_resolved AND result_channel = 3) AS results_returned_postal,
    count(*) FILTER (WHERE is_received AND inputs_digitised) AS received_inputs_digitised,
    count(*) FILTER (WHERE is_resolved AND result_digitised) AS resolved_result_digitised,
    count(*) FILTER (WHERE is_resolved AND e_result) AS resolved_e_result,
    count(*) FILTER (WHERE is_received AND fee_bearing) AS received_fee_bearing,
    count(*) FILTER (WHERE is_received AND fee_bearing AND paid_online)
        AS received_paid_online,
    count(*) FILTER (WHERE is_received AND synced_to_portal) AS received_synced
FROM g
GROUP BY unit_code, procedure_code
ORDER BY unit_code, procedure_code
"""


def parquet_source(paths: str | Path | Sequence[str | Path]) -> str:
    """A DuckDB `read_parquet(...)` expression for one file or a list of files (paths
    quoted; folder names like month=… are not read as partition columns)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    if not isinstance(paths, Sequence):
        raise TypeError(f"expected a Parquet path or list of paths, got {type(paths)}")
    quoted = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    return f"read_parquet([{quoted}], hive_partitioning = false)"


def monthly_counters(dossiers: pa.Table | str | Path | Sequence[str | Path], month: Month,
                     *, memory_limit: str = "1GB", threads: int | None = None) -> pa.Table:
    """Counters per (unit_code, procedure_code) for `month` from minimised dossiers.

    `dossiers` is an Arrow table with DOSSIER_SCHEMA, or Parquet file(s) of it (streamed by
    DuckDB, so memory stays bounded whatever their size). Rows must already be validated:
    a dossier whose terminal events contradict each other is counted by its first one.
    """
    import duckdb

    start = f"{month.first_day.isoformat()} 00:00:00"
    end = f"{month.next().first_day.isoformat()} 00:00:00"
    con = duckdb.connect(config={"memory_limit": memory_limit})
    try:
        con.execute("SET TimeZone = 'UTC'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if isinstance(dossiers, pa.Table):
            con.register("dossiers_input", dossiers)
            source = "dossiers_input"
        else:
            source = parquet_source(dossiers)
        start_utc, end_utc = (
            dt.datetime.combine(day, dt.time(), VN_TZ).astimezone(dt.UTC)
            for day in (month.first_day, month.next().first_day))
        sql = _COUNTERS_SQL.format(
            tz=TIMEZONE, source=source, start=start, end=end, period_id=month.period_id,
            last_day=month.last_day.isoformat(), start_utc=start_utc.isoformat(),
            end_utc=end_utc.isoformat())
        return con.execute(sql).fetch_arrow_table()
    finally:
        con.close()
