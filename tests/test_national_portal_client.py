"""The national-portal client against the simulator over real HTTP, in every fault mode."""

from __future__ import annotations

import itertools
import time

import pytest
import requests

from domain.periods import Month
from sources.errors import (
    IncompleteFetchError,
    RetryableSourceError,
    SourceHTTPError,
    SourceResponseError,
)
from sources.http import FetchedResponse
from sources.national_portal import (
    METRIC_GROUPS,
    TREE_GROUPS,
    LegacyGatewayClient,
    ReportingApiClient,
)
from sources.paging import Page, collect_pages
from tests.conftest import fast_config

MONTH = Month(2025, 10)
# Điện Biên (11) on the simulated portal: 12 departments and 45 communes (the reference
# package's count for the province), 57 rows in its list.
DIEN_BIEN_ROWS = 12 + 45


def province_ids(sim, code: str = "11") -> tuple[str, str]:
    """The portal's own (legacy, reporting) IDs of a province, as its national list says."""
    province = next(p for p in sim.world.provinces(MONTH) if p.unit.unit_code == code)
    return sim.world.portal.legacy_id(province), sim.world.portal.reporting_id(province)


def served(sim) -> int:
    """How many data requests the simulator received."""
    return len(requests.get(f"{sim.url}/__sim/requests", timeout=5).json())


def legacy(sim, **overrides) -> LegacyGatewayClient:
    config = fast_config(sim.url, **overrides)
    return LegacyGatewayClient(config.http(), page_size=config.page_size)


def test_clean_run_returns_all_provinces_with_their_ids(simulator) -> None:
    sim = simulator()
    records = legacy(sim).report_766(MONTH)
    assert len(records) == 34 == len({r["ID"] for r in records})  # the provinces since 2025-07
    assert all(isinstance(r["ID"], str) and r["ID"].isdigit() for r in records)
    assert "H01" in {r["MA_COQUAN"] for r in records}  # An Giang's agency code
    assert served(sim) == 1


def test_429_is_retried_after_the_servers_retry_after(simulator) -> None:
    sim = simulator({"rate_limit": 2}, retry_after=0.3)
    client = legacy(sim)
    started = time.monotonic()
    records = client.report_766(MONTH)
    elapsed = time.monotonic() - started
    assert len(records) == 34
    assert client.http.attempts == 3 == served(sim)
    assert elapsed >= 0.6  # waited Retry-After twice, not the 0.05 s backoff


def test_500_and_503_are_retried_with_backoff(simulator) -> None:
    sim = simulator({"server_error": 2})
    client = legacy(sim)
    assert len(client.report_766(MONTH)) == 34
    assert client.http.attempts == 3
    assert sim.faults.fired == {"server_error": 2}


def test_retries_are_bounded_and_the_last_error_is_raised(simulator) -> None:
    sim = simulator({"server_error": 50})
    client = legacy(sim, max_attempts=3)
    with pytest.raises(RetryableSourceError, match=r"HTTP 50[03]"):
        client.report_766(MONTH)
    assert served(sim) == 3


def test_slow_answer_past_the_timeout_is_retried(simulator) -> None:
    sim = simulator({"slow": 1}, slow_seconds=1.5)
    client = legacy(sim, read_timeout=0.4)
    assert len(client.report_766(MONTH)) == 34
    assert client.http.attempts == 2


def test_malformed_json_is_retried_and_its_bytes_still_kept(simulator) -> None:
    sim = simulator({"malformed_json": 1})
    kept: list[FetchedResponse] = []
    config = fast_config(sim.url)
    client = LegacyGatewayClient(config.http(on_response=kept.append))
    assert len(client.report_766(MONTH)) == 34
    assert len(kept) == 2
    with pytest.raises(RetryableSourceError, match="unreadable JSON"):
        kept[0].json()


def test_non_retryable_4xx_fails_at_once_with_a_clear_error(simulator) -> None:
    sim = simulator({"bad_request": 1})
    client = legacy(sim)
    with pytest.raises(SourceHTTPError, match=r"HTTP 400.*not retried") as info:
        client.report_766(MONTH)
    assert info.value.status == 400
    assert served(sim) == 1


def test_repeated_page_is_asked_again_and_no_record_is_duplicated(simulator) -> None:
    sim = simulator({"repeat_page": 1})
    client = legacy(sim, page_size=7)
    records = client.report_766(MONTH, province_ids(sim)[0])
    ids = [r["ID"] for r in records]
    assert len(ids) == len(set(ids)) == int(records[0]["TOTAL"]) == DIEN_BIEN_ROWS
    assert client.http.attempts == 10  # 9 pages of 7 (57 rows) + the repeated one again
    assert sim.faults.fired == {"repeat_page": 1}


def test_reporting_api_pages_until_total_items(simulator) -> None:
    sim = simulator({"repeat_page": 1})
    config = fast_config(sim.url)
    client = ReportingApiClient(config.http(), page_size=8)
    items = client.evaluation("service-results", Month(2026, 3), province_ids(sim)[1])
    assert len({i["departmentId"] for i in items}) == len(items) == DIEN_BIEN_ROWS
    assert {i["childGroup"] for i in items} == {"AGENCY", "COMMUNE"}


def test_paging_raises_when_records_are_missing_against_the_total() -> None:
    pages = {1: Page([{"ID": "1"}, {"ID": "2"}], total=5), 2: Page([{"ID": "3"}], total=5)}
    with pytest.raises(IncompleteFetchError, match="collected 3 distinct records"):
        collect_pages(pages.__getitem__, key=lambda r: r["ID"], page_size=2, what="test")


def test_throttle_spaces_requests_at_the_configured_rate(simulator) -> None:
    sim = simulator()
    client = legacy(sim, rate_per_second=5.0)
    for _ in range(4):
        client.monthly_sum(MONTH, "11311")  # config/units/source_ids.csv
    times = [r["t"] for r in requests.get(f"{sim.url}/__sim/requests", timeout=5).json()]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    assert min(gaps) >= 0.2 - 0.02  # 5 requests/s; allow the server's clock a little slack


def test_token_travels_in_header_and_never_in_recorded_params(simulator) -> None:
    sim = simulator()
    kept: list[FetchedResponse] = []
    config = fast_config(sim.url, token="s3cr3t-token")
    client = LegacyGatewayClient(config.http(on_response=kept.append))
    client.report_766(MONTH)
    assert client.http.session.headers["Authorization"] == "Bearer s3cr3t-token"
    assert "s3cr3t" not in repr(kept[0].params) + kept[0].url


# -- the reporting API's metric groups and tree groups ---------------------------------
REPORTING_MONTH = Month(2026, 3)


def reporting(sim, kept: list[FetchedResponse] | None = None,
              page_size: int = 200) -> ReportingApiClient:
    config = fast_config(sim.url)
    return ReportingApiClient(config.http(on_response=kept.append if kept is not None
                                          else None), page_size=page_size)


@pytest.mark.parametrize("group", METRIC_GROUPS)
def test_metric_groups_page_every_unit_with_its_metrics(simulator, group: str) -> None:
    sim = simulator({"repeat_page": 1})
    kept: list[FetchedResponse] = []
    items = reporting(sim, kept, page_size=20).evaluation(group, REPORTING_MONTH,
                                                         province_ids(sim)[1])
    assert len({i["departmentId"] for i in items}) == len(items) == DIEN_BIEN_ROWS
    assert all(i["metrics"] and {"code", "name", "ratio", "score", "maxScore"} <= set(
        i["metrics"][0]) for i in items)
    assert len(kept) == 4  # 57 units in pages of 20, and page 2 again after it repeated
    body = kept[0].params
    assert (body["timeType"], body["year"], body["month"]) == ("month", 2026, 3)
    assert body["rootDepartmentId"] == province_ids(sim)[1]
    dated = {"fromDate": "2026-03-01", "toDate": "2026-03-31"}
    assert (dated.items() <= body.items()) == (group == "handling-satisfaction")


def test_handling_satisfaction_sends_the_periods_first_and_last_day(simulator) -> None:
    from domain.periods import Period

    sim = simulator(published_through=Month(2026, 5))
    kept: list[FetchedResponse] = []
    client = reporting(sim, kept)
    for period, dates in ((Period("quarter", 2026, 2), ("2026-04-01", "2026-06-30")),
                          (Period("year_to_date", 2026, 4), ("2026-01-01", "2026-04-30"))):
        national = client.evaluation("handling-satisfaction", period)
        assert len(national) == 34
        body = kept[-1].params
        assert (body["fromDate"], body["toDate"]) == dates
        assert body["departmentType"] == "ADMINISTRATIVE_UNIT"
        assert body["timeType"] == ("quarter" if period.period_type == "quarter" else "year")
    # The dates decide the period: the year through April, though May is scored.
    province = next(p for p in sim.world.provinces(REPORTING_MONTH)
                    if p.unit.unit_code == "11")
    item = next(i for i in national if i["departmentId"] == province_ids(sim)[1])
    published = {m["code"]: m for m in item["metrics"]}
    for metric in sim.world.metrics("handling-satisfaction", province.unit,
                                    Period("year_to_date", 2026, 4)):
        assert int(published[metric["code"]]["denominator"]) == metric["denominator"]
    # A period before the reporting API's first month is the legacy gateway's: refused.
    with pytest.raises(SourceHTTPError) as refused:
        client.evaluation("handling-satisfaction", Period("year_to_date", 2026, 2))
    assert refused.value.status == 400
    # Without the dates the simulator, like the real group, refuses the request.
    answer = requests.post(f"{sim.url}/api/v1/reporting/evaluation/handling-satisfaction",
                           json={"timeType": "month", "year": 2026, "month": 3,
                                 "departmentType": "ADMINISTRATIVE_UNIT"}, timeout=5)
    assert answer.status_code == 400 and "fromDate" in answer.text


@pytest.mark.parametrize("group", TREE_GROUPS)
def test_tree_groups_are_flattened_into_every_unit_once(simulator, group: str) -> None:
    sim = simulator()
    kept: list[FetchedResponse] = []
    nodes = reporting(sim, kept).tree(group, REPORTING_MONTH, province_ids(sim)[1])
    assert len(kept) == 1  # the answer has no pagination: one request
    data = kept[0].json()["data"]
    nested = [c for c in data["children"] if c["children"]]
    assert nested and any(c["children"] for n in nested for c in n["children"])  # 2 deep
    assert len(data["children"]) < DIEN_BIEN_ROWS
    assert data["parent"]["departmentId"] == province_ids(sim)[1]
    assert len({n["departmentId"] for n in nodes}) == len(nodes) == DIEN_BIEN_ROWS
    assert all("children" not in n for n in nodes)
    expected = {sim.world.portal.reporting_id(u) for p in sim.world.provinces(REPORTING_MONTH)
                if p.unit.unit_code == "11" for u in sim.world.children(p, REPORTING_MONTH)}
    assert {n["departmentId"] for n in nodes} == expected
    assert {"totalReceived", "totalOnTime", "ratio", "score", "maxScore"} <= set(nodes[0])


def test_a_tree_answer_with_pagination_is_paged_like_evaluation() -> None:
    """Pages of top-level children (each with its own children), until totalItems."""

    class Pages:
        def __init__(self) -> None:
            self.bodies: list[dict] = []

        def request_json(self, method: str, path: str, **kwargs: object) -> tuple:
            body = dict(kwargs["json_body"])
            self.bodies.append(body)
            page = body["currentPage"]
            children = [{"departmentId": f"p{page}-{i}", "children": [
                {"departmentId": f"p{page}-{i}-child", "children": []}]} for i in range(2)]
            return ({"code": "OK", "data": {
                "parent": {"departmentId": "root"}, "children": children[:3 - page],
                "pagination": {"currentPage": page, "pageSize": 2, "totalItems": 3}}}, None)

    http = Pages()
    nodes = ReportingApiClient(http, page_size=2).tree("dvc-progress-tree", REPORTING_MONTH,
                                                       "root")
    assert [n["departmentId"] for n in nodes] == [
        "p1-0", "p1-0-child", "p1-1", "p1-1-child", "p2-0", "p2-0-child"]
    assert [b["currentPage"] for b in http.bodies] == [1, 2]


def test_a_tree_without_children_list_is_a_response_error() -> None:
    class Flat:
        def request_json(self, method: str, path: str, **kwargs: object) -> tuple:
            return {"code": "OK", "data": {"parent": {}, "children": {"not": "a list"}}}, None

    with pytest.raises(SourceResponseError, match="no children"):
        ReportingApiClient(Flat()).tree("provide-online-tree", REPORTING_MONTH)
