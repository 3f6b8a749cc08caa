"""Clients for provincial one-stop systems (Hệ thống thông tin giải quyết TTHC).

One interface, `OneStopSource`, with an adapter per vendor shape, chosen per province by
configuration (`onestop.provinces` in config/sources.yaml):
- `IGateSource` (VNPT iGate style): aggregated counts per agency
  (`pa/dossier-statistic/--statistic-agency`);
- `OpenCPSSource` (OpenCPS style): monthly statistic records per agency and domain
  (`o/rest/v2/statistics/dossiers`).
Both read the paged dossier-level export (`pa/dossier/--export`).

Authentication: OpenID Connect client credentials; the bearer token is renewed before it
expires and again whenever the system answers 401 (a token revoked mid-run).
Personal data: each export page is minimised (transforms.personal_data) as soon as it is
parsed; the raw bytes of export pages are hashed and measured but never written. Errors
about an answer name the source, the URL (credentials written into a Connection's host are
dropped), the status and the body's size and sha256, never its bytes: refusals, error
pages and unreadable pages of these systems are full of applicants' data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa
import requests

from domain.periods import VN_TZ, Month
from sources.errors import (
    IncompleteFetchError,
    RetryableSourceError,
    SourceHTTPError,
    SourceResponseError,
)
from sources.http import (
    RETRYABLE_STATUS,
    FetchedResponse,
    HttpOptions,
    HttpSource,
    named_body,
    parse_retry_after,
    without_credentials,
)
from transforms.personal_data import minimise_export_csv, minimise_export_page

log = logging.getLogger(__name__)

TOKEN_MARGIN_SECONDS = 30.0
EXPORT_PATH = "/pa/dossier/--export"


def body_digest(status: int, body: bytes) -> str:
    """How an error names an answer it cannot quote: status, size and sha256 (the raw zone's
    metadata has the full hash)."""
    return f"HTTP {status}, {named_body(body)}"


class ClientCredentialsAuth(requests.auth.AuthBase):
    """Bearer token from an OAuth2/OIDC token endpoint, renewed before expiry and on demand.

    The client secret and token live only in memory; they are sent in request bodies and
    headers, which are never recorded in the raw zone or logs.
    """

    def __init__(self, token_url: str, client_id: str, client_secret: str,
                 timeout: float = 10.0, source_name: str = "one-stop system") -> None:
        self.source_name = source_name
        self.token_url = without_credentials(token_url)
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.renewals = 0

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                where = f"{self.source_name}: token endpoint {self.token_url}"
                try:
                    response = requests.post(self.token_url, data={
                        "grant_type": "client_credentials", "client_id": self.client_id,
                        "client_secret": self.client_secret}, timeout=self.timeout)
                except (requests.Timeout, requests.ConnectionError) as exc:
                    raise RetryableSourceError(f"{where}: {type(exc).__name__}") from exc
                # Token answers are never written (a good one holds the token); a refusal
                # may echo anything, so it is named by size and hash only.
                answer = body_digest(response.status_code, response.content)
                if response.status_code in RETRYABLE_STATUS:
                    raise RetryableSourceError(
                        f"{where}: {answer}",
                        retry_after=parse_retry_after(response.headers.get("Retry-After")))
                if response.status_code != 200:
                    raise SourceHTTPError(
                        f"{where}: {answer} (not retried: check the one-stop Connection's "
                        "client id and secret)", status=response.status_code)
                try:
                    payload = response.json()
                    token = payload["access_token"]
                except (ValueError, KeyError, TypeError):
                    raise RetryableSourceError(f"{where}: unreadable answer ({answer})"
                                               ) from None
                try:
                    ttl = float(payload.get("expires_in", 300))
                except (TypeError, ValueError):
                    raise SourceResponseError(
                        f"{where}: expires_in is not a number of seconds "
                        f"({type(payload.get('expires_in')).__name__})") from None
                if not isinstance(token, str) or not token or ttl != ttl or ttl <= 0:
                    raise SourceResponseError(
                        f"{where}: no usable access_token / expires_in in its answer")
                self._token = token
                self._expires_at = time.monotonic() + max(1.0, ttl - min(
                    TOKEN_MARGIN_SECONDS, ttl / 2))
                self.renewals += 1
            return self._token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request


class ClientCredentialsHttp:
    """`http()` for a configuration with `base_url`, `client_id`, `client_secret` and
    `source_name`: a session whose bearer token comes from `{base_url}/oauth2/token`."""

    def http(self, on_response: Callable[[FetchedResponse], None] | None = None
             ) -> HttpSource:
        auth = ClientCredentialsAuth(f"{self.base_url.rstrip('/')}/oauth2/token",
                                     self.client_id, self.client_secret,
                                     source_name=self.source_name)
        return self._http(self.base_url, self.source_name, auth=auth,
                          on_response=on_response)


@dataclass(frozen=True)
class OneStopConfig(ClientCredentialsHttp, HttpOptions):
    province_code: str
    vendor: str  # igate | opencps
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)  # secrets never reach a repr, log or error
    hash_key: bytes = field(repr=False)
    export_format: str = "json"  # json | csv (the fast path for large exports)
    rate_per_second: float = field(default=5.0, kw_only=True)
    read_timeout: float = field(default=60.0, kw_only=True)

    def __post_init__(self) -> None:
        # These systems authenticate with client credentials; a user and password written
        # into the host would only travel into error texts, logs and the raw zone.
        base_url = without_credentials(self.base_url)
        if base_url != self.base_url:
            log.warning("onestop_%s: the user and password in the system's URL are ignored "
                        "(the Connection's login and password are the client credentials)",
                        self.province_code)
            object.__setattr__(self, "base_url", base_url)

    @property
    def source_name(self) -> str:
        return f"onestop_{self.province_code}"



def hash_key_from_env(environ: Mapping[str, str] | None = None) -> bytes:
    env = os.environ if environ is None else environ
    return env.get("REFORMSTATS_DOSSIER_HASH_KEY", "").encode("utf-8")


def month_window(month: Month) -> dict[str, str]:
    """from-date / to-date of a calendar month in Vietnam time, as the systems expect."""
    start = dt.datetime.combine(month.first_day, dt.time(), VN_TZ)
    end = dt.datetime.combine(month.last_day, dt.time(23, 59, 59, 999000), VN_TZ)
    return {"from-date": start.isoformat(timespec="milliseconds"),
            "to-date": end.isoformat(timespec="milliseconds")}


class OneStopSource(Protocol):
    """What the pipeline needs from any vendor's system."""

    http: HttpSource

    def dossier_pages(self, month: Month, unit_codes: Mapping[str, str]
                      ) -> Iterator[pa.Table]: ...

    def aggregates(self, month: Month) -> list[dict[str, Any]]: ...


class _ExportMixin:
    http: HttpSource
    config: OneStopConfig

    @property
    def export_url(self) -> str:
        return f"{self.http.base_url}{EXPORT_PATH}"

    def dossier_pages(self, month: Month, unit_codes: Mapping[str, str]
                      ) -> Iterator[pa.Table]:
        """Minimised dossiers of the month, one Arrow table per page, every page until the
        source's total is reached. A page identical to one already received is asked for
        again (bounded); a total that changes between pages fails the fetch (the list
        changed while it was read). The caller de-duplicates keys across pages and checks
        the distinct count against `self.total`. JSON pages are minimised record by record,
        CSV pages column by column; both before anything is written."""
        self.total: int | None = None
        csv = self.config.export_format == "csv"
        key = self.config.hash_key
        source = self.http.source_name
        parse_page = _parse_csv if csv else _parse_json

        def fetch(page: int) -> tuple[tuple[pa.Table, int | None], FetchedResponse]:
            query: dict[str, Any] = {**month_window(month), "page": page,
                                     "size": self.config.page_size}
            if csv:
                query["format"] = "csv"
            return self.http.request(
                "GET", EXPORT_PATH, params=query, query=query,
                parse=lambda f: parse_page(f, source, key, unit_codes))

        seen_pages: set[str] = set()
        page, refetches, received = 0, 0, 0
        # One page is fetched (and minimised) ahead while the caller handles the current
        # one, so the source's time and ours overlap. Memory: at most two pages.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-prefetch") as pool:
            future = pool.submit(fetch, page)
            while True:
                (table, total), fetched = future.result()
                if page > 0 and total != self.total:
                    raise IncompleteFetchError(
                        f"{source}: the export's total changed from {self.total} to {total} "
                        f"at page {page} from {fetched.url} "
                        f"({body_digest(fetched.status, fetched.body)}): the list changed "
                        "while it was read")
                self.total = total
                fingerprint = hashlib.sha256(
                    "|".join(map(str, table["dossier_key"].to_pylist())).encode()).hexdigest()
                if table.num_rows and fingerprint in seen_pages:
                    refetches += 1
                    if refetches > 3:
                        raise IncompleteFetchError(
                            f"{source}: export page {page} from {fetched.url} keeps repeating "
                            f"earlier records ({body_digest(fetched.status, fetched.body)})")
                    future = pool.submit(fetch, page)
                    continue
                refetches = 0
                seen_pages.add(fingerprint)
                received += table.num_rows
                more = table.num_rows > 0 and self.total is not None and received < self.total
                if more:
                    future = pool.submit(fetch, page + 1)
                yield table
                if not more:
                    break
                page += 1


def _page_problem(source: str, fetched: FetchedResponse, problem: str) -> str:
    return (f"{source}: export page from {fetched.url} "
            f"({body_digest(fetched.status, fetched.body)}): {problem}")


def _parse_json(fetched: FetchedResponse, source: str, key: bytes,
                unit_codes: Mapping[str, str]) -> tuple[pa.Table, int | None]:
    """A JSON page -> (minimised dossiers, the source's total). Errors never quote the body:
    a JSON error's position, a record's type, never a value."""
    try:
        payload = json.loads(fetched.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = getattr(exc, "pos", getattr(exc, "start", "?"))
        raise RetryableSourceError(_page_problem(
            source, fetched, f"unreadable JSON ({type(exc).__name__} at position "
                             f"{position})")) from None
    content = payload.get("content") if isinstance(payload, dict) else None
    if not isinstance(content, list):
        raise SourceResponseError(_page_problem(source, fetched, "no 'content' list"))
    for number, item in enumerate(content):
        if not isinstance(item, dict):
            raise SourceResponseError(_page_problem(
                source, fetched, f"record {number} is a {type(item).__name__}, not an "
                                 "object"))
    total = _whole_number(payload.get("totalElements", 0))
    if total is None:
        raise SourceResponseError(_page_problem(
            source, fetched, "totalElements is not a whole number "
                             f"({type(payload.get('totalElements')).__name__})"))
    return minimise_export_page(content, key, unit_codes), total


def _whole_number(value: Any) -> int | None:
    """A count as a source sends it (a number or its digits as text), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        return int(value)
    return None


def _csv_problem(exc: pa.ArrowException) -> str:
    """What was wrong with a CSV page, without the row Arrow quotes in its message."""
    text = str(exc)
    shape = re.search(r"(Row #\d+: )?Expected \d+ columns, got \d+", text)
    if shape:
        return f"a row has the wrong number of columns ({shape.group(0)})"
    if isinstance(exc, KeyError):  # a header we read is absent: an error page, or a new shape
        missing = re.search(r"Column '(\w+)' in include_columns", text)
        return f"no '{missing.group(1)}' column" if missing else "a header is missing"
    if "Empty CSV" in text:
        return "no header row"
    if "UTF8" in text:
        return "not UTF-8 text"
    return type(exc).__name__


def _parse_csv(fetched: FetchedResponse, source: str, key: bytes,
               unit_codes: Mapping[str, str]) -> tuple[pa.Table, int | None]:
    """A CSV page -> (minimised dossiers, the source's total from X-Total-Count). A page
    Arrow cannot read (truncated, garbled, an error page) is asked for again."""
    try:
        table = minimise_export_csv(fetched.body, key, unit_codes)
    except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
        # Arrow's message quotes the offending row (an applicant's name, ID number, ...).
        raise RetryableSourceError(_page_problem(
            source, fetched, f"unreadable CSV: {_csv_problem(exc)}")) from None
    header = fetched.headers.get("X-Total-Count")
    total = _whole_number(header)
    if header is None:  # without it, nothing tells a complete export from its first page
        raise SourceResponseError(_page_problem(source, fetched, "no X-Total-Count header"))
    if total is None:
        raise SourceResponseError(_page_problem(
            source, fetched, f"X-Total-Count is not a whole number ({len(header)} characters)"))
    return table, total


class IGateSource(_ExportMixin):
    """VNPT iGate-style system."""

    def __init__(self, config: OneStopConfig, http: HttpSource) -> None:
        self.config, self.http = config, http

    def aggregates(self, month: Month) -> list[dict[str, Any]]:
        """Per agency: received, receivedOnline, receivedDirect, resolved, resolvedOverdue,
        as counters named like fact_dossier_monthly's."""
        payload, _ = self.http.request_json(
            "GET", "/pa/dossier-statistic/--statistic-agency", params=month_window(month),
            query=month_window(month))
        rows = []
        for item in payload.get("content", []):
            rows.append({"source_unit_id": item["agency"]["id"],
                         "received_total": item["received"],
                         "received_online": item["receivedOnline"],
                         "resolved_total": item["resolved"],
                         "resolved_late": item["resolvedOverdue"]})
        return rows


class OpenCPSSource(_ExportMixin):
    """OpenCPS-style system: records per agency and domain, summed per agency here."""

    def __init__(self, config: OneStopConfig, http: HttpSource) -> None:
        self.config, self.http = config, http

    def aggregates(self, month: Month) -> list[dict[str, Any]]:
        query = {"month": month.month, "year": month.year}
        payload, _ = self.http.request_json("GET", "/o/rest/v2/statistics/dossiers",
                                            params=query, query=query)
        totals: dict[str, dict[str, Any]] = {}
        fields = {"receivedCount": "received_total", "onlineCount": "received_online",
                  "onegateCount": "received_in_person", "viaPostalCount": "received_postal",
                  "releaseCount": "resolved_total", "betimesCount": "resolved_early",
                  "ontimeCount": "resolved_on_time", "overtimeCount": "resolved_late",
                  "undueCount": "in_progress_on_time", "overdueCount": "in_progress_overdue"}
        for record in payload.get("data", []):
            row = totals.setdefault(record["govAgencyCode"],
                                    {"published_unit_code": record["govAgencyCode"]})
            for source_name, name in fields.items():
                row[name] = row.get(name, 0) + int(record.get(source_name) or 0)
        return list(totals.values())


ADAPTERS: dict[str, type] = {"igate": IGateSource, "opencps": OpenCPSSource}


def make_source(config: OneStopConfig,
                on_response: Callable[[FetchedResponse], None] | None = None) -> OneStopSource:
    try:
        adapter = ADAPTERS[config.vendor]
    except KeyError as exc:
        raise ValueError(f"unknown one-stop vendor {config.vendor!r}; known: "
                         f"{sorted(ADAPTERS)}") from exc
    return adapter(config, config.http(on_response))
