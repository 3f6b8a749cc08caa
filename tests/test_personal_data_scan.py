"""Every kind of bad page from a one-stop system whose every body is full of personal data.

A hostile one-stop system on 127.0.0.1 (its token endpoint answers normally unless the
token itself is the bad page) misbehaves on the dossier export in one way per test. The
real extract step runs as the DAG task calls it (the province's Connection, read by
OneStopHook, with short timeouts and few attempts in its extra), then validation and the
load when the step gets that far. Afterwards nothing the source said about an applicant
(names with diacritics, 12-digit CCCD numbers, phones, addresses, e-mails, dossier codes)
nor any credential may appear in: the log at DEBUG (the task's failure traceback
included, as Airflow writes it), any file under the data folder (raw-zone metadata and
manifests, staging, quarantine; Parquet read column by column), any column of any
warehouse table, or the ops alert built from the exception. The error must still say what
happened: the source, the URL (without credentials), the status and the body's size and
sha256, so an operator can find the answer's metadata in the raw zone.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import logging
import threading
import time
import traceback
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from domain.periods import Month
from registry.settings import Settings
from sources.errors import (
    IncompleteFetchError,
    RetryableSourceError,
    SourceHTTPError,
    SourceResponseError,
)

PROVINCE, MONTH = "91", Month(2025, 10)
SOURCE = f"onestop_{PROVINCE}"
EXPORT_PATH, TOKEN_PATH = "/pa/dossier/--export", "/oauth2/token"
STATISTICS_PATH = "/pa/dossier-statistic/--statistic-agency"
PAGE_SIZE, MAX_ATTEMPTS = 2, 3

# Credentials: none may appear anywhere either.
CLIENT_ID, CLIENT_SECRET = "reformstats-ag", "Bí-mật-client-7Qx2"
URL_USER, URL_PASSWORD = "canbo.ag", "mk-trong-url-5521"  # written into the host by mistake
ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.tok-3f9c2a71d0"
HASH_KEY = "khoa-bam-ho-so-0123456789abcdef"

APPLICANTS = [
    {"fullname": "Nguyễn Thị Ngọc Ánh", "identityNumber": "079203001234",
     "phone": "0912345678", "email": "ngocanh.nguyen82@gmail.com",
     "address": "Số 12 đường Lê Lợi, phường Long Xuyên, tỉnh An Giang"},
    {"fullname": "Trần Văn Đức", "identityNumber": "001099012345",
     "phone": "0983456789", "email": "tranvanduc.hn@yahoo.com.vn",
     "address": "Số 5 ngõ 17 Hoàng Hoa Thám, phường Ngọc Hà, Hà Nội"},
    {"fullname": "Lê Hoàng Phúc", "identityNumber": "089187004321",
     "phone": "0868123456", "email": "phuc.lehoang@outlook.com",
     "address": "Tổ 3, ấp Long Thạnh, xã Long Điền A, tỉnh An Giang"},
    {"fullname": "Phạm Thị Thu Hương", "identityNumber": "091190007788",
     "phone": "0779234567", "email": "thuhuong.pham@gmail.com",
     "address": "Số 48/3 Trần Hưng Đạo, phường Rạch Giá, tỉnh An Giang"},
]
DOSSIER_CODES = [f"G22.91-251{i + 3:03d}-{7001 + i:04d}" for i in range(8)]
DOSSIER_IDS = [hashlib.md5(code.encode()).hexdigest()[:24] for code in DOSSIER_CODES]


def personal_values() -> set[str]:
    values = set(DOSSIER_CODES) | set(DOSSIER_IDS)
    for applicant in APPLICANTS:
        values |= set(applicant.values())
        values.add(applicant["address"].split(",")[0])  # the house and street alone
    return values


SECRETS = {CLIENT_SECRET, URL_PASSWORD, ACCESS_TOKEN, HASH_KEY}


def spellings(value: str) -> set[str]:
    """A value as a log, a JSON file, a URL or a bytes repr could spell it."""
    return {value, unicodedata.normalize("NFD", value), json.dumps(value)[1:-1],
            repr(value.encode("utf-8"))[2:-1], urllib.parse.quote(value),
            urllib.parse.quote_plus(value)}


# -- what the hostile system says ------------------------------------------------------
def applicant(i: int) -> dict[str, str]:
    return APPLICANTS[i % len(APPLICANTS)]


def record(i: int, agency_id: str, **changes: Any) -> dict[str, Any]:
    """One export record in the iGate shape, the applicant block included."""
    return {
        "id": DOSSIER_IDS[i], "code": DOSSIER_CODES[i],
        "agency": {"id": agency_id, "code": PROVINCE, "name": "UBND tỉnh An Giang"},
        "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh"},
        "applyMethod": {"id": 2}, "acceptedDate": f"2025-10-0{i + 1}T08:30:00.000+07:00",
        "appointmentDate": "2025-10-20", "completedDate": f"2025-10-1{i}T10:00:00.000+07:00",
        "refusedDate": None, "withdrawnDate": None, "pausedDate": None,
        "resultReturnedDate": f"2025-10-1{i}T15:00:00.000+07:00",
        "resultReceivingMethod": {"id": 2}, "additionalRequestCount": 0,
        "additionalDays": 0, "digitizedInput": True, "digitizedResult": True,
        "electronicResult": True, "feeRequired": False, "paidOnline": False,
        "syncedToNationalPortal": True, "status": "RESOLVED", "applicant": applicant(i),
        **changes,
    }


CSV_HEADERS = ["code", "agencyId", "agencyCode", "procedureCode", "applyMethod",
               "acceptedDate", "appointmentDate", "completedDate", "refusedDate",
               "withdrawnDate", "pausedDate", "resultReturnedDate", "resultReceivingMethod",
               "additionalRequestCount", "additionalDays", "digitizedInput",
               "digitizedResult", "electronicResult", "feeRequired", "paidOnline",
               "syncedToNationalPortal", "applicantFullname", "applicantIdentityNumber",
               "applicantPhone", "applicantAddress"]


def csv_row(i: int, agency_id: str, **changes: str) -> dict[str, str]:
    person = applicant(i)
    return {"code": DOSSIER_CODES[i], "agencyId": agency_id, "agencyCode": PROVINCE,
            "procedureCode": "1.001193", "applyMethod": "2",
            "acceptedDate": f"2025-10-0{i + 1}T01:30:00Z", "appointmentDate": "2025-10-20",
            "completedDate": f"2025-10-1{i}T03:00:00Z", "refusedDate": "",
            "withdrawnDate": "", "pausedDate": "",
            "resultReturnedDate": f"2025-10-1{i}T08:00:00Z", "resultReceivingMethod": "2",
            "additionalRequestCount": "0", "additionalDays": "0", "digitizedInput": "true",
            "digitizedResult": "true", "electronicResult": "true", "feeRequired": "false",
            "paidOnline": "false", "syncedToNationalPortal": "true",
            "applicantFullname": person["fullname"],
            "applicantIdentityNumber": person["identityNumber"],
            "applicantPhone": person["phone"], "applicantAddress": person["address"],
            **changes}


def csv_text(rows: list[dict[str, str]], headers: list[str] = CSV_HEADERS) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=headers, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def json_page(records: list[dict[str, Any]], total: int, page: int = 0) -> bytes:
    return json.dumps({"content": records, "totalElements": total,
                       "totalPages": -(-total // PAGE_SIZE), "number": page,
                       "size": PAGE_SIZE}, ensure_ascii=False).encode("utf-8")


def echoed(i: int) -> dict[str, str]:
    """A header some gateways add to a refusal, echoing the applicant (percent-encoded)."""
    person = applicant(i)
    return {"X-Error-Detail": urllib.parse.quote(
        f"{person['fullname']} {person['identityNumber']} {person['phone']}")}


def refusal(agency_id: str) -> bytes:
    """A 4xx that echoes the applicant and the dossier it choked on."""
    person = applicant(0)
    return json.dumps({
        "status": 400, "error": "Bad Request",
        "message": f"Hồ sơ {DOSSIER_CODES[0]} của công dân {person['fullname']} (CCCD "
                   f"{person['identityNumber']}, SĐT {person['phone']}) không hợp lệ",
        "dossier": record(0, agency_id)}, ensure_ascii=False).encode("utf-8")


def error_page(status_line: str) -> bytes:
    """An HTML error page from a proxy that dumped the request it was serving."""
    rows = "".join(f"<tr><td>{DOSSIER_CODES[i]}</td><td>{applicant(i)['fullname']}</td>"
                   f"<td>{applicant(i)['identityNumber']}</td><td>{applicant(i)['phone']}"
                   f"</td><td>{applicant(i)['address']}</td><td>{applicant(i)['email']}</td>"
                   "</tr>" for i in range(4))
    return (f"<html><head><title>{status_line}</title></head><body><h1>{status_line}</h1>"
            f"<p>Đang xử lý danh sách hồ sơ:</p><table>{rows}</table></body></html>"
            ).encode()


# -- the hostile server ----------------------------------------------------------------
Answer = Callable[[BaseHTTPRequestHandler, int], None]  # (handler, page asked for)


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
         content_type: str = "application/json; charset=utf-8",
         headers: dict[str, str] | None = None, length: int | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()
    if length is not None:  # promised more than it sent: hang up mid-body
        handler.close_connection = True


def good_token(handler: BaseHTTPRequestHandler, n: int) -> None:
    send(handler, 200, json.dumps({"access_token": ACCESS_TOKEN, "token_type": "Bearer",
                                   "expires_in": 300}).encode())


@dataclasses.dataclass
class HostileOneStop:
    url: str
    export_requests: int = 0
    token_requests: int = 0


@pytest.fixture
def hostile_onestop() -> Iterator[Callable[..., HostileOneStop]]:
    """Factory: a one-stop system on 127.0.0.1 whose token endpoint answers with `token`,
    its export with `export` and its aggregated statistics with `statistics`."""
    servers: list[ThreadingHTTPServer] = []

    def start(export: Answer, token: Answer = good_token,
              statistics: Answer | None = None) -> HostileOneStop:
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    system.token_requests += 1
                if self.path == TOKEN_PATH:
                    token(self, system.token_requests)
                else:
                    send(self, 404, b"{}")

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
                    send(self, 401, b'{"error": "invalid_token"}')
                    return
                if url.path == STATISTICS_PATH and statistics is not None:
                    statistics(self, 0)
                    return
                if url.path != EXPORT_PATH:
                    send(self, 404, b"{}")
                    return
                with lock:
                    system.export_requests += 1
                page = int(urllib.parse.parse_qs(url.query).get("page", ["0"])[0])
                export(self, page)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        system = HostileOneStop(f"http://127.0.0.1:{server.server_address[1]}")
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(server)
        return system

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# -- the kinds of bad page -------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BadPage:
    """One kind of bad page: how the system answers, and what the step must say."""

    export_format: str
    export: Callable[[str], Answer]  # agency id -> the export's answer
    error: type[Exception] | None  # None: the step gets through (and quarantines)
    says: str = ""  # what the error says happened
    status: int | None = None
    body: Callable[[str], bytes] | None = None  # the body the error names by size and hash
    path: str = EXPORT_PATH
    token: Answer = good_token
    export_requests: int | None = None  # how many the client sends (bounded)
    quarantined: int = 0


def always(status: int, body: Callable[[str], bytes], content_type: str = "application/json",
           headers: dict[str, str] | None = None) -> Callable[[str], Answer]:
    return lambda agency: (lambda handler, page: send(handler, status, body(agency),
                                                      content_type, headers))


def broken_json(agency: str) -> bytes:
    page = json_page([record(0, agency), record(1, agency)], 4)
    return page[: len(page) * 2 // 3]  # stops inside the second applicant's block


def ragged_csv(agency: str) -> bytes:
    """A CSV whose second row has the applicant's fields spilled into extra columns."""
    good = csv_text([csv_row(0, agency)])
    spilled = ",".join([*csv_row(1, agency).values(), applicant(1)["email"],
                        applicant(2)["fullname"], applicant(2)["identityNumber"]])
    return good + spilled.encode("utf-8") + b"\n"


def wrong_shape(agency: str) -> bytes:
    return json.dumps({"content": [f"{applicant(i)['fullname']}, CCCD "
                                   f"{applicant(i)['identityNumber']}" for i in range(2)],
                       "totalElements": 2}, ensure_ascii=False).encode("utf-8")


def cut_short(body: Callable[[str], bytes], content_type: str) -> Callable[[str], Answer]:
    def answer(agency: str) -> Answer:
        whole = body(agency)
        return lambda handler, page: send(handler, 200, half(whole), content_type,
                                          length=len(whole))
    return answer


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def two_json_pages(agency: str) -> bytes:
    return json_page([record(0, agency), record(1, agency)], 4)


def two_csv_rows(agency: str) -> bytes:
    return csv_text([csv_row(0, agency), csv_row(1, agency)])


def cut_body(body: Callable[[str], bytes]) -> Callable[[str], bytes]:
    return lambda agency: half(body(agency))


# Readable pages whose records carry the applicant in fields we never read, and in fields
# we read but whose values have the wrong type (text where a date or a number belongs).
def unknown_fields_json(agency: str) -> Answer:
    def extras(i: int) -> dict[str, Any]:
        person = applicant(i)
        return {"ghiChu": f"Người nộp: {person['fullname']}, CCCD {person['identityNumber']}",
                "nguoiNopHoSo": {"hoTen": person["fullname"], "soDienThoai": person["phone"],
                                 "email": person["email"], "diaChi": person["address"]},
                "attachments": [{"fileName": f"CCCD_{person['identityNumber']}.pdf"}]}

    records = [record(0, agency, **extras(0)),
               record(1, agency, acceptedDate={"value": "2025-10-02T08:30:00.000+07:00",
                                               "nguoiTiepNhan": applicant(1)["fullname"]},
                      **extras(1)),
               record(2, agency, **extras(2),
                      additionalDays=applicant(2)["phone"],
                      appointmentDate=f"hẹn trả ông {applicant(2)['fullname']}"),
               record(3, agency, **extras(3))]
    return lambda handler, page: send(handler, 200, json_page(
        records[page * PAGE_SIZE:(page + 1) * PAGE_SIZE], len(records), page))


def unknown_fields_csv(agency: str) -> Answer:
    headers = [*CSV_HEADERS, "applicantEmail", "ghiChu"]

    def row(i: int, **changes: str) -> dict[str, str]:
        person = applicant(i)
        return csv_row(i, agency, applicantEmail=person["email"],
                       ghiChu=f"Người nộp {person['fullname']}, {person['address']}",
                       **changes)

    rows = [row(0), row(1, acceptedDate=applicant(1)["fullname"]),
            row(2, additionalDays=applicant(2)["identityNumber"]), row(3)]
    return lambda handler, page: send(handler, 200, csv_text(
        rows[page * PAGE_SIZE:(page + 1) * PAGE_SIZE], headers), "text/csv",
        {"X-Total-Count": str(len(rows))})


def total_changes_json(agency: str) -> Answer:
    """totalElements grows by 2 at every page, with fresh records to match."""
    return lambda handler, page: send(handler, 200, json_page(
        [record(2 * page, agency), record(2 * page + 1, agency)] if page < 4 else [],
        5 + 2 * page, page))


def total_changes_csv(agency: str) -> Answer:
    """X-Total-Count shrinks by one at every page."""
    return lambda handler, page: send(
        handler, 200, csv_text([csv_row(2 * page, agency), csv_row(2 * page + 1, agency)]
                               if page < 4 else []), "text/csv",
        {"X-Total-Count": str(7 - page)})


def token_refusal(agency: str = "") -> bytes:
    person = applicant(3)
    return json.dumps({"error": "invalid_client", "error_description":
                       f"Tài khoản của {person['fullname']} (CCCD {person['identityNumber']}"
                       f", {person['email']}) đã bị khoá"}, ensure_ascii=False).encode()


BAD_PAGES = {
    "refused_400_echoing_the_applicant": BadPage(
        "json", always(400, refusal, headers=echoed(0)), SourceHTTPError, "not retried", 400,
        refusal, export_requests=1),
    "refused_404_csv_echoing_the_applicant": BadPage(
        "csv", always(404, refusal, headers=echoed(1)), SourceHTTPError, "not retried", 404,
        refusal, export_requests=1),
    "server_error_503_until_attempts_run_out": BadPage(
        "json", always(503, lambda agency: error_page("503 Service Unavailable"),
                       "text/html; charset=utf-8"),
        RetryableSourceError, "", 503, lambda agency: error_page("503 Service Unavailable"),
        export_requests=MAX_ATTEMPTS),
    "rate_limited_429_until_attempts_run_out": BadPage(
        "csv", always(429, lambda agency: error_page("429 Too Many Requests"),
                      "text/html; charset=utf-8", {"Retry-After": "0"}),
        RetryableSourceError, "", 429, lambda agency: error_page("429 Too Many Requests"),
        export_requests=MAX_ATTEMPTS),
    "unreadable_json": BadPage(
        "json", always(200, broken_json), RetryableSourceError, "unreadable JSON", 200,
        broken_json, export_requests=MAX_ATTEMPTS),
    "html_page_instead_of_json": BadPage(
        "json", always(200, lambda agency: error_page("Lỗi hệ thống"),
                       "text/html; charset=utf-8"),
        RetryableSourceError, "unreadable JSON", 200,
        lambda agency: error_page("Lỗi hệ thống"), export_requests=MAX_ATTEMPTS),
    "json_records_that_are_not_objects": BadPage(
        "json", always(200, wrong_shape), SourceResponseError, "not an object", 200,
        wrong_shape, export_requests=1),
    "unreadable_csv_rows": BadPage(
        "csv", always(200, ragged_csv, "text/csv", {"X-Total-Count": "2"}),
        RetryableSourceError, "unreadable CSV", 200, ragged_csv,
        export_requests=MAX_ATTEMPTS),
    "html_page_instead_of_csv": BadPage(
        "csv", always(200, lambda agency: error_page("Lỗi hệ thống"), "text/csv"),
        RetryableSourceError, "unreadable CSV", 200,
        lambda agency: error_page("Lỗi hệ thống"), export_requests=MAX_ATTEMPTS),
    "json_body_cut_short": BadPage(
        "json", cut_short(two_json_pages, "application/json"), RetryableSourceError,
        "reading the body of", None, cut_body(two_json_pages),
        export_requests=MAX_ATTEMPTS),
    "csv_body_cut_short": BadPage(
        "csv", cut_short(two_csv_rows, "text/csv"), RetryableSourceError,
        "reading the body of", None, cut_body(two_csv_rows), export_requests=MAX_ATTEMPTS),
    "json_unknown_and_mistyped_fields": BadPage(
        "json", unknown_fields_json, None, quarantined=2, export_requests=2),
    "csv_unknown_and_mistyped_fields": BadPage(
        "csv", unknown_fields_csv, None, quarantined=2, export_requests=2),
    "json_total_grows_between_pages": BadPage(
        "json", total_changes_json, IncompleteFetchError, "changed from 5 to 7", 200,
        lambda agency: json_page([record(2, agency), record(3, agency)], 7, 1),
        export_requests=2),
    "csv_total_shrinks_between_pages": BadPage(
        "csv", total_changes_csv, IncompleteFetchError, "changed from 7 to 6", 200,
        lambda agency: csv_text([csv_row(2, agency), csv_row(3, agency)]),
        export_requests=2),
    "token_endpoint_refuses_with_personal_data": BadPage(
        "json", always(200, two_json_pages), SourceHTTPError, "not retried", 400,
        token_refusal, path=TOKEN_PATH,
        token=lambda handler, n: send(handler, 400, token_refusal()), export_requests=0),
}

CUT_SHORT = {"json_body_cut_short", "csv_body_cut_short"}


# -- running the step as the DAG task does ---------------------------------------------
@dataclasses.dataclass
class Outcome:
    system: HostileOneStop
    error: BaseException | None
    alert: str
    seconds: float
    agency_id: str

    @property
    def text(self) -> str:
        return str(self.error) if self.error else ""


def agency_of_province(settings: Settings) -> str:
    mapping = settings.units.mapping("onestop_agency", MONTH.first_day)
    return next(agency for agency, unit in mapping.items() if unit == PROVINCE)


def run_extract(kind: BadPage, hostile_onestop, settings: Settings,
                monkeypatch: pytest.MonkeyPatch, statistics: Answer | None = None
                ) -> Outcome:
    """The onestop_monthly DAG's dossier tasks for one province and month, as far as they
    get (or, given `statistics`, its extract_aggregates task); on failure, the log line
    and the ops alert Airflow would write for the task."""
    from plugins.hooks import OneStopHook, source_config
    from plugins.notifiers import notify_ops, ops_message
    from steps import onestop as steps

    agency = agency_of_province(settings)
    system = hostile_onestop(kind.export(agency), kind.token, statistics)
    host = system.url.replace("://", f"://{URL_USER}:{URL_PASSWORD}@")
    monkeypatch.setenv(f"AIRFLOW_CONN_{SOURCE.upper()}", json.dumps({
        "conn_type": "http", "host": host, "login": CLIENT_ID, "password": CLIENT_SECRET,
        "extra": {"vendor": "igate", "export_format": kind.export_format,
                  "page_size": PAGE_SIZE, "max_attempts": MAX_ATTEMPTS,
                  "rate_per_second": 500, "initial_wait": 0.01, "max_wait": 0.05,
                  "connect_timeout": 1, "read_timeout": 2, "request_deadline": 3}}))
    monkeypatch.setenv("REFORMSTATS_DOSSIER_HASH_KEY", HASH_KEY)
    monkeypatch.delenv("REFORMSTATS_OPS_WEBHOOK_URL", raising=False)
    # the notifier keeps what it cannot deliver in this warehouse's outbox (scanned too)
    monkeypatch.setenv("REFORMSTATS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("REFORMSTATS_WAREHOUSE_URL", settings.warehouse_url)
    config = source_config(OneStopHook(PROVINCE, settings))
    started = time.monotonic()
    error: BaseException | None = None
    task = "extract_dossiers" if statistics is None else "extract_aggregates"
    try:
        if statistics is not None:
            steps.extract_aggregates(PROVINCE, MONTH, config, settings)
        else:
            ref = steps.extract_dossiers(PROVINCE, MONTH, config, settings)
            validated = steps.validate_dossiers(ref, settings)
            steps.load_month(validated, None, "scheduled__2025-11-01", settings)
    except Exception as exc:  # what the task runner catches
        error = exc
    alert = ""
    if error is not None:
        logging.getLogger("airflow.task").error("Task failed with exception",
                                                exc_info=error)
        context = {"task_instance": SimpleNamespace(
                       dag_id="onestop_monthly", task_id=f"province.{task}",
                       map_index=0, try_number=1),
                   "run_id": "scheduled__2025-11-01", "exception": error,
                   "data_interval_start": dt.datetime(2025, 10, 1, tzinfo=dt.UTC)}
        notify_ops(context)
        alert = json.dumps(ops_message(context), ensure_ascii=False)
    return Outcome(system, error, alert, time.monotonic() - started, agency)


def everything_written(settings: Settings) -> list[str]:
    """Every file under the data folder (Parquet also read column by column) and every
    column of every warehouse table, as text."""
    texts = []
    for path in sorted(Path(settings.data_dir).rglob("*")):
        if not path.is_file():
            continue
        texts.append(path.read_bytes().decode("utf-8", errors="replace"))
        if path.suffix == ".parquet":
            table = pq.read_table(path, partitioning=None)
            texts += [str(v) for column in table.columns for v in column.to_pylist()]
    database = settings.warehouse_url.removeprefix("duckdb:///")
    with duckdb.connect(database, read_only=True) as db:
        columns = db.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN "
            "information_schema.tables t USING (table_schema, table_name) "
            "WHERE t.table_type = 'BASE TABLE'").fetchall()
        assert len(columns) > 50  # the scan sees the whole schema
        for table, column in columns:
            texts += [v for (v,) in db.execute(
                f'SELECT CAST("{column}" AS VARCHAR) FROM "{table}" '
                f'WHERE "{column}" IS NOT NULL').fetchall()]
    return texts


def leaks(haystack: str) -> list[str]:
    return sorted(value for value in personal_values() | SECRETS
                  if any(spelling in haystack for spelling in spellings(value)))


def keyed_hash(code: str) -> str:
    """The dossier key the minimisation must produce (keyed BLAKE2b-128, written here
    from its definition rather than imported)."""
    return hashlib.blake2b(code.encode(), key=HASH_KEY.encode(), digest_size=16).hexdigest()


# -- the tests -------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(BAD_PAGES))
def test_a_bad_page_full_of_personal_data_leaves_none_of_it_anywhere(
        name, hostile_onestop, settings, monkeypatch, caplog) -> None:
    kind = BAD_PAGES[name]
    caplog.set_level(logging.DEBUG)
    outcome = run_extract(kind, hostile_onestop, settings, monkeypatch)
    assert outcome.seconds < 5  # bounded by the Connection's short timeouts and attempts

    # What happened, and that the client stopped where it should.
    if kind.error is None:
        assert outcome.error is None, outcome.text
    else:
        assert isinstance(outcome.error, kind.error), repr(outcome.error)
        assert kind.says in outcome.text
    if kind.export_requests is not None:
        assert outcome.system.export_requests == kind.export_requests

    # Nothing about an applicant, no dossier code and no credential, anywhere.
    failure_log = "".join(traceback.format_exception(outcome.error)) if outcome.error else ""
    haystack = "\n".join([caplog.text, failure_log, outcome.alert,
                          *everything_written(settings)])
    assert leaks(haystack) == []

    # The raw zone kept the answers' metadata, never their bytes.
    assert not list(Path(settings.raw_dir).rglob("*.body"))
    (fetch,) = Path(settings.raw_dir, SOURCE, "dossiers").glob("month=*/fetch=*")
    manifest = json.loads((fetch / "_manifest.json").read_text(encoding="utf-8"))
    metas = [json.loads(p.read_text(encoding="utf-8"))
             for p in sorted(fetch.glob("responses/*.meta.json"))]
    assert all(meta["body_kept"] is False for meta in metas)
    assert all(meta["url"] == outcome.system.url + EXPORT_PATH for meta in metas)
    # every answer is listed, except those cut short (never received whole)
    assert len(metas) == (0 if name in CUT_SHORT else outcome.system.export_requests)

    if kind.error is None:  # the step got through: the records flowed, minimised
        assert manifest["status"] == "complete"
        with duckdb.connect(settings.warehouse_url.removeprefix("duckdb:///"),
                            read_only=True) as db:
            assert db.execute("SELECT count(*) FROM quarantine_row").fetchone()[0] == (
                kind.quarantined)
            assert db.execute("SELECT sum(received_total) FROM fact_dossier_monthly"
                              ).fetchone()[0] == 4 - kind.quarantined
            reasons = " ".join(r for (r,) in db.execute(
                "SELECT row_json FROM quarantine_row").fetchall())
        # the quarantine still says which values could not be read, without them
        assert "received_at: cannot read" in reasons
        assert "supplement_days: cannot read" in reasons
        assert keyed_hash(DOSSIER_CODES[0]) in haystack  # and the scan can see them
        return

    # The error says which source, which URL (without its credentials) and which status.
    url = outcome.system.url + kind.path
    assert SOURCE in outcome.text and url in outcome.text
    if kind.status is not None:
        assert f"HTTP {kind.status}" in outcome.text or f"status {kind.status}" in (
            outcome.text)
    first_line = json.loads(outcome.alert)["error"]
    assert SOURCE in first_line and url in first_line  # the alert names them too
    assert manifest["status"] == "failed" and url in manifest["error"]
    if kind.path == EXPORT_PATH and kind.body is not None and kind.status is not None:
        # the raw zone has the bad answer's size and full sha256 (what the error points at)
        body = kind.body(outcome.agency_id)
        assert {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()} in [
            {"bytes": m["bytes"], "sha256": m["sha256"]} for m in metas]


@pytest.mark.parametrize("name", [
    name for name, kind in BAD_PAGES.items() if kind.error is not None and kind.body])
def test_the_error_names_the_bad_body_by_size_and_sha256(
        name, hostile_onestop, settings, monkeypatch) -> None:
    kind = BAD_PAGES[name]
    outcome = run_extract(kind, hostile_onestop, settings, monkeypatch)
    body = kind.body(outcome.agency_id)
    assert f"{len(body)} bytes" in outcome.text, outcome.text
    assert f"sha256 {hashlib.sha256(body).hexdigest()[:12]}" in outcome.text, outcome.text


@pytest.mark.parametrize(("status", "error"), [(400, SourceHTTPError),
                                               (503, RetryableSourceError)])
def test_a_refused_statistics_page_is_kept_by_size_and_hash_only(
        status, error, hostile_onestop, settings, monkeypatch, caplog) -> None:
    """The aggregated statistics hold counts, not people, so their answers are kept byte
    for byte; a refusal or error page of the same system may echo anyone it was serving."""
    caplog.set_level(logging.DEBUG)
    page = error_page(f"{status} Lỗi thống kê")
    outcome = run_extract(BAD_PAGES["refused_400_echoing_the_applicant"], hostile_onestop,
                          settings, monkeypatch, statistics=lambda handler, n: send(
                              handler, status, page, "text/html; charset=utf-8"))
    assert isinstance(outcome.error, error), repr(outcome.error)
    assert outcome.seconds < 5
    haystack = "\n".join([caplog.text, "".join(traceback.format_exception(outcome.error)),
                          outcome.alert, *everything_written(settings)])
    assert leaks(haystack) == []
    assert not list(Path(settings.raw_dir).rglob("*.body"))
    (fetch,) = Path(settings.raw_dir, SOURCE, "aggregates").glob("month=*/fetch=*")
    metas = [json.loads(p.read_text(encoding="utf-8"))
             for p in sorted(fetch.glob("responses/*.meta.json"))]
    assert [(m["status"], m["bytes"], m["sha256"], m["body_kept"]) for m in metas] == [
        (status, len(page), hashlib.sha256(page).hexdigest(), False)] * (
            1 if status == 400 else MAX_ATTEMPTS)
    url = outcome.system.url + STATISTICS_PATH
    assert SOURCE in outcome.text and url in outcome.text
    assert f"HTTP {status}" in outcome.text
