"""Normalise national-portal (Cổng DVCQG) payloads into conformed frames.

Three datasets:
- `portal_score`: the 766 service-quality scores per unit and period, from the legacy
  gateway's `report_tinh_766_service` or the reporting API's `service-results` group.
- `portal_metric`: the 766 metrics per unit and period (numerator, denominator, ratio,
  score) from the reporting API's metric groups and tree groups.
- `portal_monthly_counters`: a province's monthly dossier counters from the legacy
  gateway's `report_by_month_sum_service`.

Every function here is pure: records in, a pandas DataFrame out. Values that cannot be read
do not raise; they are reported in the `parse_errors` column so the validation step can
quarantine that row with its reason and keep the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from domain.periods import Period
from domain.units import UnitRegistry
from transforms.coerce import CoercionError, to_count, to_id, to_number, to_text

# 766 components: portal code -> (English name, Vietnamese name, maximum points).
COMPONENTS: dict[str, tuple[str, str, float]] = {
    "CKMB": ("publicity", "Công khai, minh bạch", 18.0),
    "TDGQ": ("progress", "Tiến độ, kết quả giải quyết", 20.0),
    "CLGQ": ("online_services", "Dịch vụ trực tuyến", 12.0),
    "TTTT": ("online_payment", "Thanh toán trực tuyến", 10.0),
    "MDHL": ("satisfaction", "Mức độ hài lòng", 18.0),
    "MDSH": ("digitisation", "Mức độ số hóa hồ sơ", 22.0),
}
COMPONENT_COLUMNS = [code.lower() for code in COMPONENTS]

LEVEL_BY_LOAI_COQUAN = {"1": "province", "2": "department", "3": "commune"}
LEVEL_BY_CHILD_GROUP = {"AGENCY": "department", "COMMUNE": "commune"}

PORTAL_SCORE_COLUMNS = [
    "unit_code", "period_id", "source_api", "source_unit_id", "published_unit_code",
    "unit_name", "unit_level", "list_scope", *COMPONENT_COLUMNS, "total_score",
    "published_rank", "record_index", "parse_errors",
]
NATIONAL_LIST = "national"  # the request key (list scope) of the national list

# The reporting API's tree groups (one node per unit, scored as one metric) -> the metric
# code a node is stored under; every other group answers `metrics[]` per unit.
TREE_METRICS: dict[str, str] = {"dvc-progress-tree": "DVC_PROGRESS",
                                "provide-online-tree": "PROVIDE_ONLINE",
                                "formality-online-payment-tree": "ONLINE_PAYMENT"}
# (column, field of a metric, field of a tree node, reader)
METRIC_FIELDS: tuple[tuple[str, str, str, Callable[[Any], Any]], ...] = (
    ("numerator", "numerator", "totalOnTime", to_count),
    ("denominator", "denominator", "totalReceived", to_count),
    ("ratio", "ratio", "ratio", to_number),
    ("score", "score", "score", to_number),
    ("max_score", "maxScore", "maxScore", to_number),
)
PORTAL_METRIC_COLUMNS = [
    "unit_code", "period_id", "metric_group", "metric_code", "metric_name",
    *(column for column, *_ in METRIC_FIELDS), "source_api", "source_unit_id",
    "published_unit_code", "unit_name", "unit_level", "list_scope", "record_index",
    "parse_errors",
]

# report_by_month_sum_service: portal field -> warehouse column (counts only; rates below).
MONTHLY_COUNT_FIELDS: dict[str, str] = {
    "HS_TOTAL": "dossiers_handled",
    "DB_TOTAL": "dossiers_synced",
    "HTN_TRUCTIEP_TOTAL": "received_in_person",
    "HTN_BUUCHINH_TOTAL": "received_postal",
    "HTN_TRUCTUYEN_TOTAL": "received_online",
    "HTN_TRUCTUYEN_KHONGCHUAN_TOTAL": "received_online_nonstandard",
    "HTDH_TOTAL": "results_returned_on_time",
    "HTQH_TOTAL": "results_returned_late",
    "DXLTH_TOTAL": "processed_on_time",
    "DXLQH_TOTAL": "processed_late",
    "GDTTQG_TOTAL": "payments_online_national",
    "GDTT_TOTAL": "payments_online_total",
    "NTTQG_TOTAL": "petitions_received",
    "NTTDXLTH_TOTAL": "petitions_on_time",
    "NTTDXLQH_TOTAL": "petitions_late",
    "TNKTCS_TOTAL": "tnktcs_total",
    "TNTK_TOTAL": "tntk_total",
}
# Published rates (percent), kept beside the counts to cross-check; never summed.
MONTHLY_RATE_FIELDS: dict[str, str] = {
    "TILE": "published_on_time_pct",
    "TILE_DB": "published_sync_pct",
    "GDTTDP": "published_local_payment_pct",
    "GDTTQG": "published_national_payment_pct",
}
MONTHLY_COUNTER_COLUMNS = [
    "unit_code", "period_id", "source_api", "source_unit_id",
    *MONTHLY_COUNT_FIELDS.values(), *MONTHLY_RATE_FIELDS.values(),
    "record_index", "parse_errors",
]


class _Row:
    """Collects one output row and the problems met while reading it."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.errors: list[str] = []

    def read(self, column: str, record: Mapping[str, Any], field: str,
             reader: Callable[[Any], Any]) -> None:
        try:
            self.values[column] = reader(record.get(field))
        except CoercionError as exc:
            self.values[column] = None
            self.errors.append(f"{field}: {exc}")

    def identify(self, record: Mapping[str, Any], id_field: str, code_field: str,
                 name_field: str) -> None:
        """The unit as the source names it: its ID there, published code and name."""
        self.read("source_unit_id", record, id_field, to_id)
        self.read("published_unit_code", record, code_field, to_text)
        self.read("unit_name", record, name_field, to_text)

    def locate(self, units: UnitRegistry | None, scheme: str, period: Period,
               api: str) -> None:
        """The period and the API it came by; our unit through the `scheme` crosswalk of
        configured IDs when `units` is given, else left to unit matching (None here)."""
        self.values["unit_code"] = (units.lookup(scheme, self.values["source_unit_id"],
                                                 period.first_day) if units else None)
        self.values["period_id"] = period.period_id
        self.values["source_api"] = api

    def finish(self, index: int) -> dict[str, Any]:
        self.values["record_index"] = index
        self.values["parse_errors"] = "; ".join(self.errors) or None
        return self.values


_COUNT_COLUMNS = {*MONTHLY_COUNT_FIELDS.values(), "numerator", "denominator"}
_NUMBER_COLUMNS = {*COMPONENT_COLUMNS, "total_score", "ratio", "score", "max_score"}


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns:
        if column in {"period_id", "record_index"}:
            frame[column] = frame[column].astype("int64")
        elif column.endswith("_rank") or column in _COUNT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column]).astype("Int64")
        elif column in _NUMBER_COLUMNS or column.endswith("_pct"):
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return frame


def legacy_766_scores(records: Iterable[tuple[str | None, Mapping[str, Any]]],
                      period: Period) -> pd.DataFrame:
    """(list, record) pairs of `report_tinh_766_service` -> portal_score frame.

    The unit is left to unit matching (transforms/unit_matching.py): the record's `ID`,
    `MA_COQUAN` and `TEN_COQUAN` are kept as the source sent them; `list_scope` says
    which list it came in (national, or the province code).
    """
    rows = []
    for index, (scope, record) in enumerate(records):
        row = _Row()
        row.values["list_scope"] = scope
        row.identify(record, "ID", "MA_COQUAN", "TEN_COQUAN")
        level = to_id(record.get("LOAI_COQUAN"))
        row.values["unit_level"] = LEVEL_BY_LOAI_COQUAN.get(level or "")
        for code in COMPONENTS:
            row.read(code.lower(), record, code, to_number)
        row.read("total_score", record, "TONG_SCORE", to_number)
        row.read("published_rank", record, "ROW_STT", to_count)
        row.locate(None, "legacy_766", period, "legacy_gateway")
        rows.append(row.finish(index))
    return _frame(rows, PORTAL_SCORE_COLUMNS)


def reporting_766_scores(evaluations: Iterable[tuple[str | None, Mapping[str, Any]]],
                         period: Period) -> pd.DataFrame:
    """(list, item) pairs of the reporting API's `service-results` -> portal_score frame.

    Provinces come from the national list (no `childGroup`); departments and communes from
    a province's list. The unit is left to unit matching, as for the legacy gateway.
    """
    rows = []
    for index, (scope, item) in enumerate(evaluations):
        row = _reporting_unit(scope, item, item.get("childGroup"), period)
        scores = item.get("groupScores")
        if not isinstance(scores, Mapping):
            row.errors.append("groupScores: missing or not an object")
            scores = {}
        for code in COMPONENTS:
            row.read(code.lower(), scores, code, to_number)
        row.read("total_score", item, "totalScore", to_number)
        row.values["published_rank"] = None
        rows.append(row.finish(index))
    return _frame(rows, PORTAL_SCORE_COLUMNS)


def _reporting_unit(scope: str | None, item: Mapping[str, Any], child_group: Any,
                    period: Period) -> _Row:
    """A new row for a unit of a reporting-API list: the list it came in, the unit as the
    API names it (left to unit matching), its level (the national list holds provinces; a
    province's list says `childGroup` AGENCY or COMMUNE), the period and the API."""
    row = _Row()
    row.values["list_scope"] = scope
    row.identify(item, "departmentId", "departmentCode", "departmentName")
    row.values["unit_level"] = (LEVEL_BY_CHILD_GROUP.get(str(child_group)) if child_group
                                else "province" if scope == NATIONAL_LIST else None)
    row.locate(None, "reporting", period, "reporting_api")
    return row


def reporting_766_metrics(records: Iterable[tuple[str | None, Mapping[str, Any]]],
                          period: Period) -> pd.DataFrame:
    """(list, record) pairs of the reporting API's metric and tree groups -> portal_metric
    frame: one row per unit and metric.

    A record is `{"group": ..., "item": ..., "childGroup": ...}`: the group that answered,
    the unit's item (metric groups: its `metrics[]`; tree groups: the node, scored as one
    metric, `TREE_METRICS`, with totalOnTime / totalReceived as numerator / denominator),
    and its `childGroup` as the list's `service-results` gave it (where the item has
    none). Numbers as published: a numerator or denominator not sent stays NULL. A record
    gives several rows, so `record_index` is the row's position.
    """
    rows = []
    for scope, record in records:
        group, item = record.get("group"), record.get("item")
        if not isinstance(item, Mapping):
            item = {}
        child_group = item.get("childGroup") or record.get("childGroup")
        if group in TREE_METRICS:
            entries: list[tuple[Any, Mapping[str, Any]]] = [(TREE_METRICS[group], item)]
        else:
            metrics = item.get("metrics")
            entries = [(None, m if isinstance(m, Mapping) else {})
                       for m in metrics] if isinstance(metrics, list) else [(None, {})]
        for code, metric in entries:
            row = _reporting_unit(scope, item, child_group, period)
            row.values["metric_group"] = to_text(group)
            if code is None and not metric:
                row.errors.append("metrics: missing, not a list, or an item not an object")
            if code is None:
                row.read("metric_code", metric, "code", to_text)
                row.read("metric_name", metric, "name", to_text)
            else:
                row.values["metric_code"], row.values["metric_name"] = code, None
            for column, metric_field, node_field, reader in METRIC_FIELDS:
                row.read(column, metric, node_field if code else metric_field, reader)
            rows.append(row.finish(len(rows)))
    return _frame(rows, PORTAL_METRIC_COLUMNS)


def legacy_monthly_counters(records: Iterable[tuple[str, Mapping[str, Any]]],
                            period: Period, units: UnitRegistry) -> pd.DataFrame:
    """(p_tinh_id, record) pairs of `report_by_month_sum_service` -> counters frame.

    The service answers one record per province request and does not name the unit in the
    record, so the caller passes the `p_tinh_id` it asked for (scheme `legacy_tinh`).
    """
    rows = []
    for index, (tinh_id, record) in enumerate(records):
        row = _Row()
        row.values["source_unit_id"] = to_id(tinh_id)
        for field, column in MONTHLY_COUNT_FIELDS.items():
            row.read(column, record, field, to_count)
        for field, column in MONTHLY_RATE_FIELDS.items():
            row.read(column, record, field, to_number)
        row.locate(units, "legacy_tinh", period, "legacy_gateway")
        rows.append(row.finish(index))
    return _frame(rows, MONTHLY_COUNTER_COLUMNS)


def score_check_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """portal_score with `component_sum_gap` = total − sum of the six components (0 within
    rounding; NULL when a component is missing, which another check catches). Pure; a copy.
    """
    out = frame.copy()
    components = out[COMPONENT_COLUMNS].astype("float64")
    gap = out["total_score"].astype("float64") - components.sum(axis=1, skipna=False)
    out["component_sum_gap"] = gap.round(4)
    return out


def metric_check_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """portal_metric with `numerator_excess` = numerator − denominator and `score_excess`
    = score − max_score (NULL where either is missing). Pure; a copy."""
    out = frame.copy()
    for column, part, whole in (("numerator_excess", "numerator", "denominator"),
                                ("score_excess", "score", "max_score")):
        out[column] = (out[part].astype("float64") - out[whole].astype("float64")).round(4)
    return out


def monthly_counter_check_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """portal_monthly_counters with `channel_balance_gap` = handled − sum of intake
    channels and `sync_excess` = synced − handled. Pure; a copy."""
    out = frame.copy()
    channels = out[["received_in_person", "received_postal", "received_online",
                    "received_online_nonstandard"]].astype("float64")
    handled = out["dossiers_handled"].astype("float64")
    out["channel_balance_gap"] = handled - channels.sum(axis=1, skipna=False)
    out["sync_excess"] = out["dossiers_synced"].astype("float64") - handled
    return out
