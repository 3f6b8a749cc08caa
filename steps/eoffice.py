"""E-office statistics (văn bản điện tử): a province's API answers, or an office's monthly
report file, into fact_document_monthly. Both channels give the same frame
(transforms.eoffice) and pass the same suite (expectations/suites/documents.json).

API, one province and month per call (DAG eoffice_monthly):
  extract   the month's items into a new raw-zone version (answers kept byte for byte;
            404: not published yet, nothing to load)
  validate  the frame, its units in the month, the suite; failing rows wait in quarantine
  load      the partition (eoffice_<province>, month) replaced whole, in one transaction

Report file, one file per call (DAG eoffice_inbox, `reformstats eoffice import`):
  check_file   read it (header variants, units by code or name against the month's
               units), then the suite: any problem refuses the whole file
               (ReportFileError, each problem naming sheet, row and column, vi and en)
  import_file  land it in the raw zone byte for byte with its sha256, then replace the
               rows of the units it holds (the province's other units stay)
  take_file    the inbox's way: import, then archive; or move it aside with its error
               report. A file is never half-loaded and never lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from domain.periods import Month
from expectations.gx_runner import ValidationReport
from expectations.outcomes import CheckOutcome
from registry.settings import Settings
from sources.eoffice import EOfficeClient, EOfficeConfig
from sources.errors import SourceHTTPError
from sources.http import FetchedResponse
from sources.raw_zone import FetchRef, RawZone, read_manifest, read_records
from transforms.eoffice import (
    MEASURES,
    ReportFile,
    ReportFileError,
    ReportProblem,
    ResolvedReport,
    UnitIndex,
    api_frame,
    read_report,
    resolve_units,
)

log = logging.getLogger(__name__)

DATASET = "documents"
SUITE_COLUMNS = ("unit_code", "parse_errors", *MEASURES)
# Names an office's tools leave beside a file being written: never taken.
_IN_PROGRESS = ("~$", ".~lock", ".")
_PARTIAL_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial")


def source_name(province: str) -> str:
    return f"eoffice_{province}"


def _units(settings: Settings, month: Month) -> UnitIndex:
    from steps.units import known_units

    day = month.last_day
    units = known_units(settings, day)
    return UnitIndex(units.valid(day), lambda code: units.province_of(code, day))


def _suite(frame: pd.DataFrame, known: set[str], settings: Settings) -> ValidationReport:
    """The documents suite on a frame; `known`: the units of the month among its codes
    (GX gets those, not the era's thousands of units)."""
    from expectations.gx_runner import validate_frame

    entry = settings.registry[DATASET]
    return validate_frame(frame[list(SUITE_COLUMNS)], entry.validation.suite,
                          {"known_unit_codes": sorted(known)}, unit_column=entry.unit_column,
                          table=entry.table)


def _with_lineage(frame: pd.DataFrame, province: str, month: Month, channel: str,
                  settings: Settings, source_file: str | None = None) -> pa.Table:
    """The rows as fact_document_monthly has them: each unit's province in the month's own
    hierarchy (before July 2025 a merged province's system reports its predecessors'
    units), the channel, the file's name."""
    from steps.onestop import with_provinces

    table = pa.Table.from_pandas(frame[["unit_code", "source_unit_id", *MEASURES]],
                                 preserve_index=False)
    table = with_provinces(table, province, month, settings)
    return (table.append_column("source", pa.array([source_name(province)] * len(table)))
            .append_column("channel", pa.array([channel] * len(table)))
            .append_column("source_file", pa.array([source_file] * len(table), pa.string())))


# -- API -------------------------------------------------------------------------------
def extract(province: str, month: Month, config: EOfficeConfig,
            settings: Settings) -> dict[str, Any]:
    """The month's items of a province's e-office API into a new raw-zone version; its
    FetchRef, with `not_published` when the system has no statistics for the month yet."""
    writer = RawZone(settings.raw_dir).new_fetch(source_name(province), DATASET, month)

    def keep(response: FetchedResponse) -> None:
        # counts, not people; an error body may echo anything: only its metadata
        if response.status >= 400:
            writer.record_response_metadata(response, because="an error answer")
        else:
            writer.record_response(response)

    http = config.http(on_response=keep)
    try:
        items = EOfficeClient(config, http).documents(month)
        count = writer.write_records([(None, item) for item in items])
    except SourceHTTPError as exc:
        if exc.status == 404:
            writer.finish("not_published", reason=str(exc))
            log.info("%s %s: not published yet (%s)", source_name(province), month, exc)
            return {**writer.ref.to_dict(), "not_published": str(exc)}
        writer.finish("failed", error=f"{type(exc).__name__}: {exc}", attempts=http.attempts)
        raise
    except Exception as exc:
        writer.finish("failed", error=f"{type(exc).__name__}: {exc}", attempts=http.attempts)
        raise
    writer.finish("complete", records=count, channel="api", attempts=http.attempts)
    log.info("extracted %s documents %s: %d units in %d attempts, fetch %s",
             source_name(province), month, count, http.attempts, writer.ref.fetch_id)
    return writer.ref.to_dict()


def validate(ref_dict: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The fetch's frame, its units checked against the month's, the suite; good rows and
    quarantine written to staging. Failing rows wait in quarantine; the partition is
    rejected (not published) when more than max_held_share of them fail, or all."""
    from expectations.outcomes import held_share, rejection, write_outcomes
    from steps.units import known_units

    if ref_dict.get("not_published"):
        return ref_dict
    ref = FetchRef.from_dict(ref_dict)
    month = Month.parse(ref.month)
    entry = settings.registry[DATASET]
    frame = api_frame([record for _, record in read_records(ref)])
    valid = known_units(settings, month.last_day).valid(month.last_day)
    report = _suite(frame, set(frame["unit_code"].dropna()) & set(valid), settings)
    held = report.quarantined_positions
    outcomes = list(report.outcomes)
    if entry.validation.max_held_share is not None:
        outcomes.append(held_share(len(frame), len(held), entry.validation.max_held_share))
    if frame.empty:
        outcomes.append(CheckOutcome("rows_present", None, "critical", False, 0, 1,
                                     f"the e-office system listed no unit for {month}"))
    rejected = "; ".join(filter(None, [
        rejection(outcomes),
        f"no good row of {len(frame)} for {month}" if len(held) == len(frame) and held
        else None])) or None
    bad_positions = list(range(len(frame))) if rejected else held
    good = frame.drop(index=bad_positions).reset_index(drop=True)
    bad = frame.loc[bad_positions].copy()
    bad["reasons"] = ["; ".join(([f"partition rejected: {rejected}"] if rejected else [])
                                + report.row_reasons.get(p, [])) for p in bad_positions]
    folder = settings.staging_folder(ref.source, ref.dataset, ref.month, ref.fetch_id)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(good, preserve_index=False), folder / "good.parquet")
    pq.write_table(pa.Table.from_pandas(bad, preserve_index=False),
                   folder / "quarantine.parquet")
    write_outcomes(folder / "dq_results.json", outcomes)
    log.info("validated %s %s: %d units, %d quarantined%s", ref.source, month, len(frame),
             len(bad), f"; REJECTED: {rejected}" if rejected else "")
    return {**ref.to_dict(), "staging": str(folder), "rows_in": len(frame),
            "rows_good": len(good), "rows_quarantined": len(bad), "rejected": rejected}


def load(validated: dict[str, Any], run_id: str, settings: Settings) -> dict[str, Any]:
    """Replace the province's month (partition eoffice_<province>, period_id) with the good
    rows, with quarantine, dq_result and audit, in one transaction."""
    from expectations.outcomes import read_outcomes
    from warehouse.publish import PartitionLoad, load_partition, raw_sha256

    if validated.get("not_published"):
        return {"status": "not_published", "reason": validated["not_published"]}
    ref = FetchRef.from_dict(validated)
    month = Month.parse(ref.month)
    province = ref.source.removeprefix("eoffice_")
    folder = Path(validated["staging"])
    good = pq.read_table(folder / "good.parquet", partitioning=None).to_pandas()
    return load_partition(PartitionLoad(
        dataset=settings.registry[DATASET], source=ref.source, month=month,
        fetch_id=ref.fetch_id, run_id=run_id, rows_in=int(validated["rows_in"]),
        raw_sha256=raw_sha256(read_manifest(ref.path) or {}),
        facts=_with_lineage(good, province, month, "api", settings),
        partition={"source": ref.source, "period_id": month.period_id},
        quarantined=pq.read_table(folder / "quarantine.parquet", partitioning=None),
        outcomes=read_outcomes(folder / "dq_results.json"),
        rejected=validated.get("rejected")), settings.warehouse_url)


# -- report files ----------------------------------------------------------------------
@dataclass(frozen=True)
class CheckedReport:
    """A report that passed every check: what would load."""

    path: Path
    sha256: str
    month: Month
    province: str
    resolved: ResolvedReport
    frame: pd.DataFrame
    outcomes: list[CheckOutcome] = field(default_factory=list)

    @property
    def source(self) -> str:
        return source_name(self.province)

    @property
    def units(self) -> list[str]:
        return list(self.resolved.unit_codes)


def _suite_problems(report: ReportFile, frame: pd.DataFrame,
                    result: ValidationReport) -> list[ReportProblem]:
    """The suite's failing rows as problems naming the report's row and column, with the
    columns by the names the template gives them in each language."""
    from transforms.eoffice import BY_KEY

    problems = []
    for position in result.quarantined_positions:
        row = frame.iloc[position]
        for failure in result.row_failures[position]:
            column = failure.column if failure.column in report.columns else (
                "unit_code" if "unit_code" in report.columns else "unit_name")
            value = row.get(failure.column) if failure.column in frame else None
            less, _, more = failure.check_name.partition("_within_")
            if more in BY_KEY and less in BY_KEY:
                vi = (f"«{BY_KEY[less].header_vi}» phải không lớn hơn "
                      f"«{BY_KEY[more].header_vi}»: {value} > {row[more]}")
                en = (f"«{BY_KEY[less].header_en}» must be at most "
                      f"«{BY_KEY[more].header_en}»: {value} > {row[more]}")
            elif failure.check_name.startswith("expect_column_values_to_be_between") \
                    and failure.column in BY_KEY:
                vi = f"«{BY_KEY[failure.column].header_vi}» phải là số không âm: {value}"
                en = f"«{BY_KEY[failure.column].header_en}» must be 0 or more: {value}"
            else:
                vi = f"{failure.notes_vi or failure.notes}: {value}"
                en = f"{failure.notes}: {value}"
            problems.append(report.problem(int(row["row_number"]), column, vi, en))
    return problems


def _province_of_folder(path: Path, settings: Settings) -> str | None:
    """The province a file's inbox sub-folder names (`inbox/eoffice/91/…`), if any."""
    inbox = settings.eoffice_folder("inbox").resolve()
    parent = path.resolve().parent
    return parent.name if parent.parent == inbox else None


def _in_order(problems: list[ReportProblem]) -> list[ReportProblem]:
    """Problems as an office fixes them: file-wide first, then by row and column."""
    return sorted(problems, key=lambda p: (p.row or 0, len(p.column or ""), p.column or ""))


def check_file(path: Path, settings: Settings, month: Month | None = None,
               province: str | None = None) -> CheckedReport:
    """Read and check a report file whole; ReportFileError with every problem of the file
    at once (each naming sheet, row and column, in Vietnamese and English) when any part
    is wrong: reading, units and the suite's rules alike."""
    path = Path(path)
    data = path.read_bytes()
    report = read_report(path.name, data)
    problems = list(report.problems)
    if month is not None and report.month is not None and month != report.month:
        problems.append(ReportProblem(
            f"tệp ghi tháng {report.month}, lệnh nạp cho tháng {month}: sửa tệp hoặc lệnh",
            f"the file states {report.month}, the import says {month}: fix one",
            report.sheet))
    month = month or report.month
    if month is None:
        raise ReportFileError(_in_order([*problems, ReportProblem(
            "không rõ tháng báo cáo: ghi «Tháng báo cáo: MM/YYYY» ở dòng tiêu đề, hoặc tháng "
            "trong tên tệp (…_2026-10.xlsx)",
            "no report month: write «Tháng báo cáo: MM/YYYY» in a title row, or the month "
            "in the file name (…_2026-10.xlsx)", report.sheet)]), path.name)
    resolved = resolve_units(report, _units(settings, month), month,
                             province or _province_of_folder(path, settings))
    problems += resolved.problems
    if resolved.province in settings.sources.eoffice.provinces:
        raise ReportFileError([ReportProblem(
            f"số liệu văn bản điện tử của tỉnh {resolved.province} được lấy trực tiếp qua "
            "hệ thống quản lý văn bản của tỉnh (API), nên tệp báo cáo không được nạp; nếu "
            "tỉnh chuyển sang báo cáo bằng tệp, đề nghị bộ phận vận hành hệ thống cập nhật "
            "cấu hình",
            f"province {resolved.province}'s e-office figures come from its API "
            "(config/sources.yaml eoffice.provinces): the next API load would replace a "
            "file's, so it is not loaded; the platform's operators take the province off "
            "that list if it now reports by file", report.sheet)], path.name, fixable=False)
    frame = resolved.frame()
    # every code of the frame resolved to a unit of the month
    result = _suite(frame, set(resolved.unit_codes), settings) if len(frame) else None
    if result is not None:
        problems += _suite_problems(report, frame, result)
    if problems:
        raise ReportFileError(_in_order(problems), path.name)
    assert result is not None and resolved.province is not None  # rows, all resolved
    return CheckedReport(path, report.sha256, month, resolved.province, resolved, frame,
                         list(result.outcomes))


@dataclass(frozen=True)
class ImportResult:
    checked: CheckedReport
    dry_run: bool
    replaced: int        # rows of the file's units and month loaded before (replaced)
    audit: dict[str, Any] | None = None
    fetch_id: str | None = None
    unchanged: bool = False  # the warehouse already holds these figures: nothing written

    @property
    def rows(self) -> int:
        return len(self.checked.frame)


def _loaded_figures(settings: Settings, checked: CheckedReport) -> dict[str, tuple]:
    """{unit: (channel, *counts)} the warehouse holds for the file's units and month."""
    import sqlalchemy as sa

    from warehouse.engine import transaction
    from warehouse.schema import fact_document_monthly as t

    with transaction(settings.warehouse_url) as conn:
        return {row[0]: tuple(row[1:]) for row in conn.execute(
            sa.select(t.c.unit_code, t.c.channel, *(t.c[m] for m in MEASURES)).where(
                t.c.period_id == checked.month.period_id,
                t.c.unit_code.in_(checked.units)))}


def import_file(path: Path, settings: Settings, run_id: str, month: Month | None = None,
                province: str | None = None, dry_run: bool = False) -> ImportResult:
    """Check a report file, then (unless `dry_run`) land it in the raw zone and replace
    its units' rows of the month in one transaction. ReportFileError: nothing loaded."""
    from warehouse.publish import PartitionLoad, load_partition

    checked = check_file(path, settings, month, province)
    loaded = _loaded_figures(settings, checked)
    figures = {code: ("file", *(int(row[m]) for m in MEASURES))
               for code, row in zip(checked.units, checked.frame.to_dict("records"),
                                    strict=True)}
    if loaded == figures:  # the same figures again (the same file, or a copy)
        log.info("%s: %s %s already holds these figures for its %d units: nothing written",
                 checked.path.name, checked.source, checked.month, len(figures))
        return ImportResult(checked, dry_run, len(loaded), unchanged=True)
    replaced = len(loaded)
    if dry_run:
        return ImportResult(checked, True, replaced)
    ref = RawZone(settings.raw_dir).land_file(checked.source, DATASET, checked.month,
                                              checked.path)
    audit = load_partition(PartitionLoad(
        dataset=settings.registry[DATASET], source=checked.source, month=checked.month,
        fetch_id=ref.fetch_id, run_id=run_id, rows_in=len(checked.frame),
        raw_sha256=checked.sha256,
        facts=_with_lineage(checked.frame, checked.province, checked.month, "file",
                            settings, source_file=checked.path.name[:255]),
        partition={"source": checked.source, "period_id": checked.month.period_id},
        outcomes=checked.outcomes, units=checked.units), settings.warehouse_url)
    log.info("imported %s: %s %s, %d units (%d rows replaced), fetch %s", checked.path.name,
             checked.source, checked.month, len(checked.units), replaced, ref.fetch_id)
    return ImportResult(checked, False, replaced, audit, ref.fetch_id)


# -- the inbox -------------------------------------------------------------------------
def pending_files(settings: Settings, settle_seconds: float = 0.0,
                  now: dt.datetime | None = None) -> list[Path]:
    """Report files waiting in the inbox (and its province sub-folders), oldest first;
    not those still being written (an editor's lock file, a partial copy, or changed
    within `settle_seconds`)."""
    inbox = settings.eoffice_folder("inbox")
    if not inbox.exists():
        return []
    moment = (now or dt.datetime.now(dt.UTC)).timestamp()
    files = []
    for path in [*inbox.glob("*"), *inbox.glob("*/*")]:
        if not path.is_file():
            continue
        if path.name.startswith(_IN_PROGRESS) or path.suffix.lower() in _PARTIAL_SUFFIXES:
            if moment - path.stat().st_mtime > 86400:
                log.warning("%s has waited in the inbox for more than a day as a file being "
                            "written (an editor's lock file or a partial copy): never taken;"
                            " remove it, or give it its real name", path)
            continue
        if moment - path.stat().st_mtime < settle_seconds:
            continue
        files.append(path)
    return sorted(files, key=lambda p: (p.stat().st_mtime, str(p)))


def _move(path: Path, folder: Path) -> Path:
    """Move a file into `folder` under a name no other file there has (time-stamped)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{stamp}-{path.name}"
    shutil.move(str(path), target)
    return target


@dataclass(frozen=True)
class TakenFile:
    """What the inbox did with one file."""

    name: str
    status: str                    # loaded | unchanged | rejected
    path: str                      # where the file is now (archive or rejected)
    sha256: str
    source: str | None = None
    month: str | None = None
    rows: int = 0
    replaced: int = 0
    report: str | None = None      # the error report's path, for a rejected file
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "problems": list(self.problems)}


def take_file(path: Path, settings: Settings, run_id: str) -> TakenFile:
    """Import one inbox file and archive it, or move it aside with its error report (in
    Vietnamese and English). A failure of the warehouse itself leaves the file where it
    is for the next run (raised)."""
    path = Path(path)
    try:
        result = import_file(path, settings, run_id)
    except ReportFileError as exc:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        moved = _move(path, settings.eoffice_folder("rejected"))
        report = moved.with_name(moved.name + ".loi.txt")
        report.write_text(exc.report() + f"\nsha256: {sha}\n", encoding="utf-8")
        log.warning("rejected %s (%d problems), moved to %s", path.name, len(exc.problems),
                    moved)
        return TakenFile(path.name, "rejected", str(moved), sha, report=str(report),
                         problems=tuple(p.text(english=True) for p in exc.problems))
    checked = result.checked
    moved = _move(path, settings.eoffice_folder("archive") / str(checked.month))
    return TakenFile(path.name, "unchanged" if result.unchanged else "loaded", str(moved),
                     checked.sha256, checked.source, str(checked.month), result.rows,
                     result.replaced)


def province_units(settings: Settings, province: str, month: Month) -> dict[str, str]:
    """{code: name} of a province's units valid in the month (its template's rows)."""
    units = _units(settings, month)
    return {code: unit.name_vi for code, unit in units.valid.items()
            if units.province_of(code) == province}
