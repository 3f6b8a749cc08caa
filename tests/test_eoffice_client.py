"""The e-office client (docs/eoffice_api.md) against the simulator over real HTTP: paging,
tokens that expire mid-run, throttling and repeated pages; the records are the system's own
(strings where it sends strings). Expected counts come from the simulator's world."""

from __future__ import annotations

import pytest

from domain.periods import Month
from simulator import FaultPlan, PortalSimulator
from simulator.eoffice import COUNTS, DEFAULT_CLIENT
from sources.eoffice import EOfficeClient, EOfficeConfig
from sources.errors import SourceHTTPError
from transforms.eoffice import unit_code_of

MONTH = Month(2026, 3)


def client(sim: PortalSimulator, province: str = "91", **options: object) -> EOfficeClient:
    login, password = DEFAULT_CLIENT
    config = EOfficeConfig(province_code=province, base_url=f"{sim.url}/eoffice/{province}",
                           client_id=login, client_secret=password,
                           **{"rate_per_second": 500.0, "initial_wait": 0.01,
                              "max_wait": 0.05, **options})
    return EOfficeClient(config, config.http())


def number(value: object) -> int:
    return 0 if value == "" else int(value)


@pytest.fixture
def sim():
    with PortalSimulator() as started:
        yield started


def test_every_unit_of_the_month_comes_once_with_the_worlds_counts(sim) -> None:
    records = client(sim, page_size=7).documents(MONTH)  # several pages
    units = {u.unit_code: u for u in sim.onestop.world.units_of("91", MONTH)}
    # departments' agency codes come in either form, as real systems send them
    assert any(r["unit"]["code"].startswith("000.") for r in records)
    assert sorted(unit_code_of(r["unit"]["code"]) for r in records) == sorted(units)
    assert len(units) > 7
    assert any(isinstance(r["incoming"], str) for r in records)  # as real systems send
    for record in records:
        expected = sim.eoffice.world.counts(units[unit_code_of(record["unit"]["code"])], MONTH)
        assert {c: number(record[c]) for c in COUNTS} == expected
        assert expected["outgoing_signed"] <= expected["outgoing"]
        assert expected["work_files_online"] <= expected["work_files"]


def test_a_month_before_july_2025_lists_the_units_of_its_time(sim) -> None:
    records = client(sim).documents(Month(2024, 6))
    codes = {r["unit"]["code"] for r in records}
    assert "89" in codes and "91" in codes  # old An Giang and old Kiên Giang


def test_an_expired_token_a_throttle_and_a_repeated_page_cost_retries_not_records(
        sim) -> None:
    sim.faults = FaultPlan({"expire_token": 1, "rate_limit": 1, "repeat_page": 1},
                           retry_after=0.01)
    eoffice = client(sim, page_size=5)
    records = eoffice.documents(MONTH)
    assert len(records) == len(sim.onestop.world.units_of("91", MONTH))
    assert sim.faults.fired == {"expire_token": 1, "rate_limit": 1, "repeat_page": 1}
    assert eoffice.http.auth.renewals >= 1
    assert sim.eoffice.tokens_issued >= 2


def test_wrong_credentials_fail_at_once_without_the_secret_in_the_error(sim) -> None:
    eoffice = client(sim)
    eoffice.http.auth.client_secret = "wrong-Secret-42"
    with pytest.raises(SourceHTTPError) as refused:
        eoffice.documents(MONTH)
    assert refused.value.status == 401
    assert "wrong-Secret-42" not in str(refused.value)
