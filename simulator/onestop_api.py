"""A province's one-stop system over HTTP, under `/onestop/<province code>/`:

- `POST oauth2/token` — OpenID Connect client credentials (form `grant_type`,
  `client_id`, `client_secret`); tokens expire after `token_ttl` seconds.
- `GET pa/dossier-statistic/--statistic-agency?from-date&to-date[&agency-id]` — iGate-style
  counts per agency; `GET pa/dossier-statistic/--digitization?...` — digitisation counts.
- `GET o/rest/v2/statistics/dossiers?month&year` — OpenCPS-style records per agency and
  domain (lĩnh vực).
- `GET pa/dossier/--export?from-date&to-date&page&size` — every dossier with activity in
  the month, Spring-style pages (`content`, `totalElements`, `totalPages`, `number`);
  with `format=csv`, the same page as CSV with flat columns and `X-Total-Count`.

Aggregates are counted from the same dossiers the export pages, by the simulator's own
reference implementation (simulator/reference_counters.py, never the pipeline's code);
they agree with the pipeline's counters unless the `stats_mismatch` fault is on or one of
the two reads the rules wrongly. Every call but the token one needs a valid bearer token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from domain.periods import VN_TZ, Month
from domain.units import Unit
from simulator import reference_counters
from simulator.errors import ApiError
from simulator.faults import FaultedService, FaultPlan
from simulator.oauth import ClientCredentials
from simulator.onestop_world import OneStopWorld
from simulator.responses import RawBody

DEFAULT_CLIENT = ("reformstats", "sim-secret")
# The CSV export's flat columns: world column -> CSV header.
CSV_COLUMNS = {
    "dossier_id": "code", "agency_id": "agencyId", "agency_code": "agencyCode",
    "procedure_code": "procedureCode", "intake_channel": "applyMethod",
    "received_at": "acceptedDate", "promised_date": "appointmentDate",
    "finished_at": "completedDate", "returned_at": "refusedDate",
    "withdrawn_at": "withdrawnDate", "paused_at": "pausedDate",
    "result_returned_at": "resultReturnedDate", "result_channel": "resultReceivingMethod",
    "additional_requests": "additionalRequestCount", "supplement_days": "additionalDays",
    "inputs_digitised": "digitizedInput", "result_digitised": "digitizedResult",
    "e_result": "electronicResult", "fee_bearing": "feeRequired",
    "paid_online": "paidOnline", "synced_to_portal": "syncedToNationalPortal",
    "applicant_name": "applicantFullname", "applicant_id_number": "applicantIdentityNumber",
    "applicant_phone": "applicantPhone", "applicant_address": "applicantAddress",
}


def domain_code(field_vi: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", field_vi.replace("Đ", "D").replace("đ", "d"))
    letters = "".join(c for c in ascii_text if c.isalnum())
    return letters.upper()[:16]


def _local_iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(VN_TZ).isoformat(timespec="seconds") if value else None


class OneStopApi(FaultedService, ClientCredentials):
    def __init__(self, world: OneStopWorld, faults: Callable[[], FaultPlan],
                 client: tuple[str, str] = DEFAULT_CLIENT, token_ttl: float = 300.0) -> None:
        super().__init__(faults)
        self.world = world
        self.client = client
        self.token_ttl = token_ttl
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self._lock = threading.Lock()
        # keyed by (province, month, preliminary): a revised month is another answer
        self._exports: dict[tuple[str, Month, bool], pa.Table] = {}
        self._counters: dict[tuple[str, Month, bool], dict[tuple[str, str], Counter[str]]] = {}
        self._csv_cache: dict[tuple[str, Month, str], pa.Table] = {}
        # one system per province of today; a merged one also serves its predecessors' past
        self._provinces = {u.unit_code for u in world.registry.units
                           if u.level == "province" and u.valid_to is None}
        self._procedures = {p.code: p for p in world.procedures}

    # -- routing -------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               raw: bytes) -> Any:
        parts = path.split("/", 3)  # ['', 'onestop', '<province>', 'rest']
        if len(parts) < 4:
            raise ApiError(404, f"no route {path}")
        province, route = parts[2], parts[3]
        if province not in self._provinces:
            raise ApiError(404, f"no one-stop system for province {province!r}")
        if method == "POST" and route == "oauth2/token":
            return self._token(raw)
        self._authorise(headers)
        if method != "GET":
            raise ApiError(405, f"{method} not allowed on {route}")
        if route == "pa/dossier-statistic/--statistic-agency":
            return self._igate_agency(province, query)
        if route == "pa/dossier-statistic/--digitization":
            return self._igate_digitization(province, query)
        if route == "o/rest/v2/statistics/dossiers":
            return self._opencps(province, query)
        if route == "pa/dossier/--export":
            return self._export(province, query)
        raise ApiError(404, f"no route GET {route}")

    # -- data ----------------------------------------------------------------------------
    def _month(self, query: dict[str, str]) -> Month:
        try:
            start = dt.datetime.fromisoformat(query["from-date"]).astimezone(VN_TZ)
            end = dt.datetime.fromisoformat(query["to-date"]).astimezone(VN_TZ)
        except (KeyError, ValueError) as exc:
            raise ApiError(400, f"from-date and to-date (ISO 8601) are required: {exc}"
                           ) from exc
        month = Month(start.year, start.month)
        if start != dt.datetime.combine(month.first_day, dt.time(), VN_TZ) or \
                end.date() != month.last_day:
            raise ApiError(400, "this system reports whole calendar months only")
        return month

    def export(self, province: str, month: Month) -> pa.Table:
        """Every dossier the export serves for a province and month (cached)."""
        key = (province, month, self.world.preliminary(month))
        with self._lock:
            if key not in self._exports:
                self._exports[key] = self.world.export(province, month)
            return self._exports[key]

    def expected_counters(self, province: str, month: Month
                          ) -> dict[tuple[str, str], Counter[str]]:
        """The month's counters per (unit, procedure), by the simulator's reference
        implementation, from the dossiers the export serves (cached)."""
        key = (province, month, self.world.preliminary(month))
        with self._lock:
            cached = self._counters.get(key)
        if cached is None:
            cached = reference_counters.count_month(
                self.export(province, month).to_pylist(), month.year, month.month)
            with self._lock:
                self._counters[key] = cached
        return cached

    def _per_agency(self, province: str, month: Month) -> dict[str, Counter[str]]:
        return reference_counters.per_unit(self.expected_counters(province, month))

    def _unit(self, code: str, month: Month) -> Unit | None:
        """The unit with this code in the month's hierarchy (codes are reused across the
        2025 reorganisation)."""
        return self.world.registry.valid(month.first_day).get(code)

    def _agency(self, code: str, month: Month) -> dict[str, str]:
        unit = self._unit(code, month)
        return {"id": self.world.agency_id(unit, month), "code": code, "name": unit.name_vi}

    def _igate_agency(self, province: str, query: dict[str, str]) -> dict[str, Any]:
        month = self._month(query)
        items = []
        for code, c in sorted(self._per_agency(province, month).items()):
            agency = self._agency(code, month)
            if query.get("agency-id") and query["agency-id"] != agency["id"]:
                continue
            items.append({"agency": agency, "received": c["received_total"],
                          "receivedOnline": c["received_online"],
                          "receivedDirect": c["received_in_person"] + c["received_postal"],
                          "resolved": c["resolved_total"],
                          "resolvedOverdue": c["resolved_late"]})
        if items and self.faults.take("stats_mismatch"):
            items[0]["received"] += 3
        return {"content": items, "totalElements": len(items)}

    def _igate_digitization(self, province: str, query: dict[str, str]) -> dict[str, Any]:
        month = self._month(query)
        items = [{"agency": self._agency(code, month), "totalReceiver": c["received_total"],
                  "totalReceiverHavingFile": c["received_inputs_digitised"],
                  "totalComplete": c["resolved_total"],
                  "totalCompleteHavingFile": c["resolved_result_digitised"]}
                 for code, c in sorted(self._per_agency(province, month).items())]
        return {"content": items, "totalElements": len(items)}

    def _opencps(self, province: str, query: dict[str, str]) -> dict[str, Any]:
        try:
            month = Month(int(query["year"]), int(query["month"]))
        except (KeyError, ValueError) as exc:
            raise ApiError(400, f"month and year are required: {exc}") from exc
        procedures = self._procedures
        grouped: dict[tuple[str, str], Counter[str]] = {}
        for (unit, procedure_code), c in self.expected_counters(province, month).items():
            proc = procedures[procedure_code]
            bucket = grouped.setdefault((unit, proc.field_vi), Counter())
            bucket.update(c)
            bucket["online4" if proc.full_online else "online3"] += c["received_online"]
        data = []
        for (code, field_vi), c in sorted(grouped.items()):
            unit = self._unit(code, month)
            release = c["resolved_total"]
            data.append({
                "month": month.month, "year": month.year, "govAgencyCode": code,
                "govAgencyName": unit.name_vi, "domainCode": domain_code(field_vi),
                "domainName": field_vi,
                "totalCount": c["carried_over"] + c["received_total"],
                "processCount": c["received_total"], "remainingCount": c["carried_over"],
                "receivedCount": c["received_total"], "onlineCount": c["received_online"],
                "onegateCount": c["received_in_person"], "viaPostalCount": c["received_postal"],
                "releaseCount": release, "betimesCount": c["resolved_early"],
                "ontimeCount": c["resolved_on_time"], "overtimeCount": c["resolved_late"],
                "processingCount": c["in_progress_on_time"] + c["in_progress_overdue"],
                "undueCount": c["in_progress_on_time"],
                "overdueCount": c["in_progress_overdue"],
                "dossierOnline3Count": c["online3"], "dossierOnline4Count": c["online4"],
                "ontimePercentage": round(100 * (c["resolved_early"] + c["resolved_on_time"])
                                          / release) if release else None,
            })
        if data and self.faults.take("stats_mismatch"):
            data[0]["receivedCount"] += 3
        return {"total": len(data), "data": data}

    def _export(self, province: str, query: dict[str, str]) -> dict[str, Any] | RawBody:
        month = self._month(query)
        csv = query.get("format") == "csv"
        try:
            page, size = int(query.get("page", 0)), int(query.get("size", 500))
        except ValueError as exc:
            raise ApiError(400, f"page and size must be integers: {exc}") from exc
        if page < 0 or not 1 <= size <= (200_000 if csv else 5000):
            raise ApiError(400, "page >= 0 and 1 <= size <= 5000 (200000 for format=csv)")
        export = self.export(province, month)
        total = export.num_rows
        if page > 0 and self.faults.take("repeat_page"):
            page = 0
        if csv:
            return self._csv_page(province, month, page, size, total)
        rows = export.slice(page * size, size).to_pylist()
        content = [self._render(r, month) for r in rows]
        self._apply_data_faults(content)
        return {"content": content, "totalElements": total,
                "totalPages": -(-total // size), "number": page, "size": size}

    def _csv_table(self, province: str, month: Month) -> pa.Table:
        """The export with CSV headers and timestamps already rendered as ISO text (UTC,
        with 'Z'), built once per province and month so pages are cheap to serve."""
        import pyarrow.compute as pc

        key = (province, month, f"csv:{self.world.preliminary(month)}")
        with self._lock:
            if key in self._csv_cache:
                return self._csv_cache[key]
        export = self.export(province, month)
        columns = []
        for name in CSV_COLUMNS:
            column = export[name]
            if pa.types.is_timestamp(column.type):
                column = pc.binary_join_element_wise(
                    column.cast(pa.timestamp("s")).cast(pa.string()), "Z", "")
            columns.append(column)
        table = pa.table(columns, names=list(CSV_COLUMNS.values()))
        with self._lock:
            self._csv_cache[key] = table
        return table

    def _csv_page(self, province: str, month: Month, page: int, size: int,
                  total: int) -> RawBody:
        """One page of the export as CSV (flat columns), as systems export it."""
        import io

        import pyarrow.csv as pacsv

        buffer = io.BytesIO()
        pacsv.write_csv(self._csv_table(province, month).slice(page * size, size), buffer)
        return RawBody(buffer.getvalue(), "text/csv", {"X-Total-Count": str(total)})

    def _apply_data_faults(self, content: list[dict[str, Any]]) -> None:
        """Broken records a real export sometimes holds (each quarantined downstream)."""
        if not content:
            return
        faults = self.faults
        if faults.take("missing_field"):
            content[-1].pop("acceptedDate", None)
        if faults.take("bad_values"):
            content[0]["applyMethod"] = {"id": "trực tiếp"}  # text where a code belongs
        if faults.take("unknown_unit"):
            content[len(content) // 2]["agency"]["id"] = "000000000000000000000000"

    def _render(self, r: dict[str, Any], month: Month) -> dict[str, Any]:
        unit = self._unit(r["agency_code"], month)
        unit_name = unit.name_vi if unit else ""
        procs = self._procedures
        status = ("RETURNED" if r["returned_at"] else "WITHDRAWN" if r["withdrawn_at"]
                  else "RESOLVED" if r["finished_at"] else "PAUSED" if r["paused_at"]
                  else "PROCESSING")
        return {
            "id": hashlib.md5(r["dossier_id"].encode()).hexdigest()[:24],
            "code": r["dossier_id"],
            "agency": {"id": r["agency_id"], "code": r["agency_code"], "name": unit_name},
            "procedure": {"code": r["procedure_code"],
                          "name": procs[r["procedure_code"]].name_vi},
            "applyMethod": {"id": r["intake_channel"]},
            "acceptedDate": _local_iso(r["received_at"]),
            "appointmentDate": r["promised_date"].isoformat() if r["promised_date"] else None,
            "completedDate": _local_iso(r["finished_at"]),
            "refusedDate": _local_iso(r["returned_at"]),
            "withdrawnDate": _local_iso(r["withdrawn_at"]),
            "pausedDate": _local_iso(r["paused_at"]),
            "resultReturnedDate": _local_iso(r["result_returned_at"]),
            "resultReceivingMethod": ({"id": r["result_channel"]}
                                      if r["result_channel"] else None),
            "additionalRequestCount": r["additional_requests"],
            "additionalDays": r["supplement_days"],
            "digitizedInput": r["inputs_digitised"], "digitizedResult": r["result_digitised"],
            "electronicResult": r["e_result"], "feeRequired": r["fee_bearing"],
            "paidOnline": r["paid_online"], "syncedToNationalPortal": r["synced_to_portal"],
            "status": status,
            "applicant": {"fullname": r["applicant_name"],
                          "identityNumber": r["applicant_id_number"],
                          "phone": r["applicant_phone"], "address": r["applicant_address"]},
        }
