"""Benchmark: one-stop dossiers end to end, against a naive baseline in the same process.

    .venv/bin/python bench/onestop_pipeline.py --dossiers 1000000
    .venv/bin/python bench/onestop_pipeline.py --dossiers 10000000 --baseline-rows 200000

The simulator (a child process, so its memory is not ours) generates N dossiers for one
province-month, citizen data included, and serves them as CSV export pages over HTTP on
127.0.0.1. The pipeline then runs its real steps: extract (HTTP + minimise, in parts) ->
validate (vectorised rules) -> counters -> load -> indicators (DuckDB file; PostgreSQL if
reachable).
The bulk path is also measured on dossier-level rows (N minimised rows into a scratch
table) because the counters themselves are small.

The naive baseline, on `--baseline-rows` of the same export (JSON pages): row-oriented
parsing into pandas, counters by pandas groupby, DataFrame.to_sql. Figures are per row, so
ratios compare like with like. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import requests

from domain.periods import Month
from registry.settings import PROJECT_ROOT, Settings
from sources.onestop import OneStopConfig, month_window
from steps import onestop as steps
from steps.marts import build_indicators
from transforms.dossiers import monthly_counters
from warehouse.migrate import upgrade

PROVINCE, MONTH = "91", Month(2025, 10)
DOSSIERS_PER_UNIT_FACTOR = 22.3  # export rows per unit of --dossiers-per-unit (91, 1 month)
KEY = os.urandom(32)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_simulator(dossiers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    per_unit = dossiers / DOSSIERS_PER_UNIT_FACTOR
    proc = subprocess.Popen(
        [sys.executable, "-m", "commands.cli", "simulator", "--port", str(port),
         "--dossiers-per-unit", str(per_unit), "--lookback-months", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/__sim/health", timeout=1).raise_for_status()
            return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("simulator did not start")


def token(base: str) -> dict[str, str]:
    answer = requests.post(f"{base}/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "reformstats",
        "client_secret": "sim-secret"}, timeout=30).json()
    return {"Authorization": f"Bearer {answer['access_token']}"}


def timed(label: str, results: dict, rows: int, fn, *args, **kwargs):
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    results[label] = {"seconds": round(seconds, 2), "rows": rows,
                      "rows_per_s": round(rows / seconds) if seconds else None,
                      "peak_rss_mb": round(peak_rss_mb())}
    speed = f"{rows / seconds:>12,.0f} rows/s" if rows and seconds else " " * 19
    print(f"  {label:<38} {seconds:8.2f} s {speed}  peak RSS {peak_rss_mb():7.0f} MB",
          flush=True)
    return value


def pg_url_if_reachable(url: str | None) -> str | None:
    if not url:
        return None
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect():
            return url
    except sa.exc.OperationalError:
        print(f"  PostgreSQL not reachable at {url}: its figures are skipped")
        return None
    finally:
        engine.dispose()


def bulk_load(url: str, rows: pa.Table) -> None:
    """Our bulk path (replace_partition) with N dossier-level rows into a scratch table."""
    import sqlalchemy as sa

    from warehouse.engine import make_engine
    from warehouse.loader import replace_partition

    engine = make_engine(url)
    meta = sa.MetaData()
    table = sa.Table("bench_dossier", meta, *[
        sa.Column(f.name, _sa_type(f.type)) for f in rows.schema])
    meta.drop_all(engine)
    meta.create_all(engine)
    with engine.begin() as conn:
        replace_partition(conn, table, rows, {})
    engine.dispose()


def _sa_type(t: pa.DataType):
    import sqlalchemy as sa

    if pa.types.is_timestamp(t):
        return sa.DateTime(timezone=True)
    if pa.types.is_date(t):
        return sa.Date
    if pa.types.is_boolean(t):
        return sa.Boolean
    if pa.types.is_integer(t):
        return sa.Integer
    return sa.Text


def baseline(base: str, url: str, rows_wanted: int, results: dict, engine_label: str) -> None:
    """The naive pipeline: JSON pages -> row-oriented pandas -> groupby -> to_sql."""
    import pandas as pd
    import sqlalchemy as sa

    headers = token(base)
    records: list[dict] = []
    started = time.perf_counter()
    page = 0
    while len(records) < rows_wanted:
        answer = requests.get(f"{base}/pa/dossier/--export", headers=headers, timeout=300,
                              params={**month_window(MONTH), "page": page,
                                      "size": 5000}).json()
        records += answer["content"]
        if not answer["content"]:
            break
        page += 1
    records = records[:rows_wanted]
    fetch_s = time.perf_counter() - started
    t0 = time.perf_counter()
    frame = pd.DataFrame.from_records([{
        "unit_code": r["agency"]["code"], "procedure_code": r["procedure"]["code"],
        "channel": r["applyMethod"]["id"], "received": r["acceptedDate"],
        "finished": r["completedDate"], "promised": r["appointmentDate"],
        "requests": r["additionalRequestCount"], "days": r["additionalDays"],
        "digitised": r["digitizedInput"], "fee": r["feeRequired"], "paid": r["paidOnline"],
    } for r in records])
    for column in ("received", "finished"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    parse_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame["is_received"] = frame["received"] >= pd.Timestamp("2025-09-30T17:00Z")
    frame["online"] = frame["channel"] == 2
    counters = frame.groupby(["unit_code", "procedure_code"]).agg(
        received_total=("is_received", "sum"), received_online=("online", "sum"),
        digitised=("digitised", "sum"), fee=("fee", "sum"), paid=("paid", "sum")).reset_index()
    group_s = time.perf_counter() - t0
    engine = sa.create_engine(url)
    t0 = time.perf_counter()
    frame.drop(columns=["is_received", "online"]).to_sql(
        "bench_dossier_naive", engine, if_exists="replace", index=False, chunksize=10_000)
    counters.to_sql("bench_counters_naive", engine, if_exists="replace", index=False)
    load_s = time.perf_counter() - t0
    engine.dispose()
    n = len(frame)
    for label, seconds in (("fetch JSON pages", fetch_s), ("row-oriented parse", parse_s),
                           ("groupby counters", group_s),
                           (f"to_sql dossier rows ({engine_label})", load_s)):
        results[f"baseline {label}"] = {"seconds": round(seconds, 2), "rows": n,
                                        "rows_per_s": round(n / seconds) if seconds else None}
        print(f"  baseline {label:<29} {seconds:8.2f} s {n / seconds:>12,.0f} rows/s",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=200_000)
    parser.add_argument("--pg", default=os.environ.get(
        "REFORMSTATS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--page-size", type=int, default=200_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    proc, url = start_simulator(args.dossiers)
    results: dict = {"dossiers_requested": args.dossiers}
    work = Path(tempfile.mkdtemp(prefix="reformstats-bench-"))
    try:
        base = f"{url}/onestop/{PROVINCE}"
        print(f"Simulator {url}; generating ~{args.dossiers:,} dossiers (not timed) …",
              flush=True)
        t0 = time.perf_counter()
        requests.get(f"{base}/pa/dossier/--export", headers=token(base), timeout=3600,
                     params={**month_window(MONTH), "page": 0, "size": 1}).raise_for_status()
        print(f"  source ready in {time.perf_counter() - t0:.0f} s")
        duck = Settings(config_dir=PROJECT_ROOT / "config", data_dir=work / "data",
                        warehouse_url=f"duckdb:///{work / 'warehouse.duckdb'}")
        config = OneStopConfig(PROVINCE, "igate", base, "reformstats", "sim-secret", KEY,
                               rate_per_second=1000, page_size=args.page_size,
                               export_format="csv", read_timeout=600)
        print("Pipeline:")
        ref = timed("extract + minimise (HTTP, CSV)", results, 0, steps.extract_dossiers,
                    PROVINCE, MONTH, config, duck, part_rows=500_000)
        n = json.loads((Path(ref["path"]) / "_manifest.json").read_text())["records"]
        results["dossiers"] = n
        extract = results["extract + minimise (HTTP, CSV)"]
        extract["rows"], extract["rows_per_s"] = n, round(n / extract["seconds"])
        print(f"    ({n:,} dossiers: {extract['rows_per_s']:,} rows/s)")
        validated = timed("validate (rules, dedup)", results, n, steps.validate_dossiers,
                          ref, duck)
        good = Path(validated["staging"]) / "good.parquet"
        timed("counters", results, n, monthly_counters, good, MONTH)
        upgrade(duck.warehouse_url)  # schema first, as `reformstats db upgrade` does
        timed("counters+checks+load DuckDB", results, n, steps.load_month, validated,
              None, "bench", duck)
        timed("indicators (marts) DuckDB", results, n, build_indicators, MONTH, "bench",
              duck)
        # extract -> validate -> counters+checks+load -> indicators (the standalone
        # counters line is a breakdown, already inside the load step)
        stages = ("extract + minimise (HTTP, CSV)", "validate (rules, dedup)")
        results["end_to_end_duckdb_s"] = round(sum(
            results[k]["seconds"] for k in (*stages, "counters+checks+load DuckDB",
                                            "indicators (marts) DuckDB")), 2)
        pg = pg_url_if_reachable(args.pg)
        if pg:
            import dataclasses

            upgrade(pg)
            pg_settings = dataclasses.replace(duck, warehouse_url=pg)
            timed("counters+checks+load PostgreSQL", results, n, steps.load_month,
                  validated, None, "bench", pg_settings)
            timed("indicators (marts) PostgreSQL", results, n, build_indicators, MONTH,
                  "bench", pg_settings)
            results["end_to_end_postgres_s"] = round(sum(
                results[k]["seconds"] for k in (*stages, "counters+checks+load PostgreSQL",
                                                "indicators (marts) PostgreSQL")), 2)
        results["peak_rss_mb_pipeline"] = round(peak_rss_mb())
        print("Bulk path on dossier-level rows:")
        rows = pq.read_table(good, partitioning=None)
        timed("bulk load DuckDB (Arrow)", results, rows.num_rows, bulk_load,
              duck.warehouse_url, rows)
        if pg:
            timed("bulk load PostgreSQL (COPY)", results, rows.num_rows, bulk_load, pg, rows)
        del rows
        print(f"Naive baseline on {args.baseline_rows:,} rows:")
        baseline(base, duck.warehouse_url, args.baseline_rows, results, "DuckDB")
        if pg:
            baseline(base, pg, args.baseline_rows, results, "PostgreSQL")
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    def ratio(ours: str, theirs: str) -> float | None:
        a, b = results.get(ours), results.get(theirs)
        return round(a["rows_per_s"] / b["rows_per_s"], 1) if a and b else None

    results["ratio_load_duckdb_vs_to_sql"] = ratio("bulk load DuckDB (Arrow)",
                                                   "baseline to_sql dossier rows (DuckDB)")
    results["ratio_load_postgres_vs_to_sql"] = ratio(
        "bulk load PostgreSQL (COPY)", "baseline to_sql dossier rows (PostgreSQL)")
    if "baseline fetch JSON pages" in results:
        fetch, parse = results["baseline fetch JSON pages"], results["baseline row-oriented parse"]
        per_row = (fetch["seconds"] + parse["seconds"]) / fetch["rows"]
        ours = results["extract + minimise (HTTP, CSV)"]
        results["ratio_extract_vs_naive_fetch_parse"] = round(
            per_row / (ours["seconds"] / ours["rows"]), 1)
    print("\nSummary:")
    for key in ("dossiers", "end_to_end_duckdb_s", "end_to_end_postgres_s",
                "peak_rss_mb_pipeline", "ratio_load_duckdb_vs_to_sql",
                "ratio_load_postgres_vs_to_sql", "ratio_extract_vs_naive_fetch_parse"):
        print(f"  {key:<32} {results.get(key)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
