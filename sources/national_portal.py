"""Client for the national public-service portal (Cổng Dịch vụ công quốc gia, DVCQG).

Two API generations (see shared/domain/SOURCES.md §1):
- `LegacyGatewayClient`: `POST {base}/jsp/rest.jsp`, form field `params` = a JSON object
  `{"type": "ref", "service": ..., ...}`; answers JSON arrays (or `{"TOTAL", "ROW"}`).
- `ReportingApiClient`: `POST {base}/api/v1/reporting/evaluation/<group>`, JSON body,
  envelope `{"code": "OK", "data": {...}}`, paged by `currentPage` / `pageSize`.

Both work without Airflow; `plugins.hooks.NationalPortalHook` builds them from a Connection.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.periods import Month, Period
from sources.errors import NotPublishedError, SourceNotConfiguredError, SourceResponseError
from sources.http import FetchedResponse, HttpOptions, HttpSource
from sources.paging import Page, collect_pages

LEGACY_PATH = "/jsp/rest.jsp"
REPORTING_PATH = "/api/v1/reporting/evaluation/{group}"
# Groups answering `evaluation[]` of units with their `metrics[]`.
METRIC_GROUPS = ("transparency", "dossier-digitized", "handling-satisfaction")
# Groups answering `data.parent` + `data.children[]`, nodes that may hold `children`.
TREE_GROUPS = ("dvc-progress-tree", "provide-online-tree", "formality-online-payment-tree")
# Groups that take the period's first and last day (`fromDate`, `toDate`) too.
DATED_GROUPS = frozenset({"handling-satisfaction"})


@dataclass(frozen=True)
class NationalPortalConfig(HttpOptions):
    """Where and how to reach the portal. Secrets (token) never appear in logs or raw zone."""

    base_url: str = field(repr=False)  # may carry a user and password (sent as basic auth)
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 **defaults: Any) -> NationalPortalConfig:
        """Read `REFORMSTATS_NATIONAL_PORTAL_*` variables (URL required, TOKEN, RATE and
        TIMEOUT optional); `defaults` (e.g. from config/sources.yaml) fill the rest."""
        env = os.environ if environ is None else environ
        url = env.get("REFORMSTATS_NATIONAL_PORTAL_URL")
        if not url:
            raise SourceNotConfiguredError(
                "set REFORMSTATS_NATIONAL_PORTAL_URL (or the Airflow Connection "
                "'national_portal') to the portal's base URL")
        options = dict(defaults)
        if env.get("REFORMSTATS_NATIONAL_PORTAL_RATE"):
            options["rate_per_second"] = float(env["REFORMSTATS_NATIONAL_PORTAL_RATE"])
        if env.get("REFORMSTATS_NATIONAL_PORTAL_TIMEOUT"):
            options["read_timeout"] = float(env["REFORMSTATS_NATIONAL_PORTAL_TIMEOUT"])
        return cls(base_url=url, token=env.get("REFORMSTATS_NATIONAL_PORTAL_TOKEN") or None,
                   **options)

    def http(self, on_response: Callable[[FetchedResponse], None] | None = None) -> HttpSource:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        return self._http(self.base_url, "national_portal", headers=headers,
                          on_response=on_response)


def _legacy_records(payload: Any, service: str) -> tuple[list[dict[str, Any]], int | None]:
    """A legacy answer is a bare array, or `{"TOTAL": n, "ROW": [...]}`; records may also
    carry `TOTAL` (a windowed count) — return (records, total or None)."""
    total: int | None = None
    if isinstance(payload, dict) and "ROW" in payload:
        rows, total = payload["ROW"], payload.get("TOTAL")
    else:
        rows = payload
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SourceResponseError(
            f"legacy gateway {service}: expected an array of records, got "
            f"{type(rows).__name__}")
    if total is None and rows and "TOTAL" in rows[0]:
        total = rows[0]["TOTAL"]
    try:
        return rows, (int(total) if total not in (None, "") else None)
    except (TypeError, ValueError) as exc:
        raise SourceResponseError(f"legacy gateway {service}: TOTAL {total!r}") from exc


class LegacyGatewayClient:
    """`jsp/rest.jsp` services of the legacy gateway (up to early 2026)."""

    def __init__(self, http: HttpSource, page_size: int = 1000) -> None:
        self.http = http
        self.page_size = page_size

    def call(self, service: str, **parameters: Any) -> tuple[Any, FetchedResponse]:
        params = {"type": "ref", "service": service, **parameters}
        return self.http.request_json(
            "POST", LEGACY_PATH, params=params,
            data={"params": json.dumps(params, ensure_ascii=False)})

    @staticmethod
    def period_parameters(period: Period) -> dict[str, Any]:
        """`p_nam` and one of `p_thang` (month), `p_quy` (quarter), `p_6thang` (half); all
        0 asks for the year, which during the year is the year to date."""
        number = {"month": ("p_thang", period.number), "quarter": ("p_quy", period.number),
                  "half": ("p_6thang", period.number)}.get(period.period_type)
        params: dict[str, Any] = {"p_nam": str(period.year), "p_6thang": 0, "p_quy": 0,
                                  "p_thang": 0}
        if number:
            params[number[0]] = number[1]
        return params

    def report_766(self, period: Period | Month, tinh_id: str = "0", *, loaidonvi: int = 1,
                   loaichitieu: int = 0) -> list[dict[str, Any]]:
        """766 scores for a period: all provinces (`tinh_id="0"`) or one province's
        departments and communes. Pages until complete; de-duplicates by `ID`."""
        service = "report_tinh_766_service"
        if isinstance(period, Month):
            period = Period.of_month(period)

        def fetch(page_index: int) -> Page:
            payload, _ = self.call(
                service, **self.period_parameters(period), p_tinh_id=str(tinh_id),
                p_loaidonvi=loaidonvi, loaichitieu=loaichitieu, pageIndex=page_index,
                pageSize=self.page_size, p_default=0)
            records, total = _legacy_records(payload, service)
            return Page(records, total)

        records, _ = collect_pages(
            fetch, key=lambda r: r.get("ID"), page_size=self.page_size,
            what=f"{service} {period} tinh={tinh_id}")
        return records

    def monthly_sum(self, month: Month, tinh_id: str, linhvuc: str = "") -> dict[str, Any]:
        """A province's monthly dossier counters: the service answers one record."""
        service = "report_by_month_sum_service"
        payload, _ = self.call(service, p_nam=str(month.year), p_thang=str(month.month),
                               p_tinh_id=str(tinh_id), p_huyen_id="", p_linhvuc=linhvuc)
        records, _ = _legacy_records(payload, service)
        if len(records) != 1:
            raise SourceResponseError(
                f"{service} {month} tinh={tinh_id}: expected one record, got {len(records)}")
        return records[0]


class ReportingApiClient:
    """The reporting API (2026 on): evaluation groups with paged `evaluation[]` (scores,
    metric groups) and tree groups (`data.parent` + `data.children[]`)."""

    def __init__(self, http: HttpSource, page_size: int = 200) -> None:
        self.http = http
        self.page_size = page_size

    def _post(self, group: str, body: dict[str, Any]) -> dict[str, Any]:
        payload, _ = self.http.request_json(
            "POST", REPORTING_PATH.format(group=group), params=body, json_body=body)
        if not isinstance(payload, dict) or payload.get("code") != "OK":
            code = payload.get("code") if isinstance(payload, dict) else type(payload).__name__
            message = payload.get("message") if isinstance(payload, dict) else None
            raise SourceResponseError(f"reporting API {group}: code {code!r} ({message})")
        data = payload.get("data")
        if not isinstance(data, dict):
            raise SourceResponseError(f"reporting API {group}: 'data' is not an object")
        return data

    @staticmethod
    def period_body(period: Period) -> dict[str, Any]:
        """`timeType` and its fields. The API has no half year; `year` is the year so far,
        so a year to date is asked for as the year (the answer says how far it goes)."""
        if period.period_type == "month":
            return {"timeType": "month", "year": period.year, "month": period.number}
        if period.period_type == "quarter":
            return {"timeType": "quarter", "year": period.year, "quarter": period.number}
        if period.period_type in {"year", "year_to_date"}:
            return {"timeType": "year", "year": period.year}
        raise NotPublishedError(f"the reporting API publishes no {period.period_type} "
                                f"({period}); the legacy gateway does")

    @staticmethod
    def date_range(period: Period) -> dict[str, str]:
        """`fromDate` and `toDate`: the period's first and last day (ISO dates)."""
        return {"fromDate": period.first_day.isoformat(), "toDate": period.last_day.isoformat()}

    def _body(self, group: str, period: Period, root_department_id: str | None,
              page: int) -> dict[str, Any]:
        """A group's request: the period (and its dates where the group takes them), the
        page, and the root department, or the national list without one."""
        body: dict[str, Any] = {**self.period_body(period), "currentPage": page,
                                "pageSize": self.page_size}
        if group in DATED_GROUPS:
            body.update(self.date_range(period))
        if root_department_id:
            body["rootDepartmentId"] = root_department_id
        else:
            body["departmentType"] = "ADMINISTRATIVE_UNIT"
        return body

    def _collect(self, group: str, period: Period | Month, root_department_id: str | None,
                 items_of: Callable[[dict[str, Any]], list[dict[str, Any]]], *,
                 paged: bool) -> list[dict[str, Any]]:
        """The items `items_of` reads from each answer of a group, all pages; `paged`
        False: one answer holds them all unless it says otherwise (`pagination`). The
        first answer's `monthlyChart` says what period it covers (`self.covered`)."""
        if isinstance(period, Month):
            period = Period.of_month(period)
        self.covered: str | None = None

        def fetch(page: int) -> Page:
            data = self._post(group, self._body(group, period, root_department_id, page))
            items = items_of(data)
            if page == 1:
                self.covered = covered_period(period, data.get("monthlyChart"))
            pagination = data.get("pagination")
            if not isinstance(pagination, dict):
                return Page(items, None if paged else len(items))
            total = pagination.get("totalItems")
            return Page(items, int(total) if total is not None else None)

        records, _ = collect_pages(
            fetch, key=lambda r: r.get("departmentId"), page_size=self.page_size,
            what=f"reporting {group} {period} root={root_department_id or 'national'}")
        return records

    def evaluation(self, group: str, period: Period | Month,
                   root_department_id: str | None = None) -> list[dict[str, Any]]:
        """`evaluation[]` of a group for a period, all pages. Without a root department the
        national list of provinces is asked for (`departmentType: ADMINISTRATIVE_UNIT`).
        `self.covered` then holds the period the answer says it covers (see
        `covered_period`)."""

        def items_of(data: dict[str, Any]) -> list[dict[str, Any]]:
            items = data.get("evaluation")
            if not isinstance(items, list):
                raise SourceResponseError(f"reporting API {group}: no evaluation[] list")
            return items

        return self._collect(group, period, root_department_id, items_of, paged=True)

    def tree(self, group: str, period: Period | Month,
             root_department_id: str | None = None) -> list[dict[str, Any]]:
        """The nodes under a tree group's `data.parent` (the root department, or the whole
        country): `data.children[]` and their own `children`, flattened depth-first, each
        without its `children`. Paged like `evaluation` only when the answer has
        `pagination`."""

        def items_of(data: dict[str, Any]) -> list[dict[str, Any]]:
            children = data.get("children")
            if not isinstance(children, list):
                raise SourceResponseError(f"reporting API {group}: no children[] list")
            return children

        nodes = flatten_tree(self._collect(group, period, root_department_id, items_of,
                                           paged=False), f"reporting API {group}")
        unique: dict[Any, dict[str, Any]] = {}
        for node in nodes:  # a node listed twice in the tree is one unit
            unique.setdefault(node.get("departmentId") or id(node), node)
        return list(unique.values())


def flatten_tree(nodes: list[Any], what: str) -> list[dict[str, Any]]:
    """Tree nodes and their descendants (`children`), depth-first, without `children`."""
    flat: list[dict[str, Any]] = []
    for node in nodes:
        if not isinstance(node, dict):
            raise SourceResponseError(f"{what}: a tree node is {type(node).__name__}")
        children = node.get("children") or []
        if not isinstance(children, list):
            raise SourceResponseError(f"{what}: children of {node.get('departmentId')} is "
                                      f"{type(children).__name__}, not a list")
        flat.append({k: v for k, v in node.items() if k != "children"})
        flat += flatten_tree(children, what)
    return flat


def covered_period(requested: Period, chart: Any) -> str | None:
    """The period an answer covers, read from its `monthlyChart` (months not yet scored are
    null): a year's answer covers the year to date through its last scored month; a
    month's or quarter's is `unscored` when its last month is not scored yet. None: the
    answer does not say."""
    if not isinstance(chart, list) or not chart:
        return None
    scored = sorted(int(m["month"]) for m in chart
                    if isinstance(m, dict) and m.get("averageScore") is not None
                    and str(m.get("month", "")).isdigit())
    if requested.period_type in {"year", "year_to_date"}:
        if not scored:
            return "unscored"
        last = scored[-1]
        return str(Period("year", requested.year, 0) if last == 12
                   else Period("year_to_date", requested.year, last))
    return str(requested) if requested.last_month.month in scored else "unscored"
