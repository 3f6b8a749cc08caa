"""Monthly counters from dossiers, against values computed by hand.

Every dossier below is for unit H97.101 and procedure P1 unless said otherwise; times are
local (Asia/Ho_Chi_Minh) and the month under test is October 2025 unless said otherwise.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from domain.periods import VN_TZ, Month
from transforms.dossiers import COUNTER_COLUMNS, DOSSIER_SCHEMA, monthly_counters

OCT = Month(2025, 10)


def at(text: str | None) -> dt.datetime | None:
    """'2025-10-03 09:00' local time -> aware datetime."""
    if text is None:
        return None
    return dt.datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


def dossier(received: str, *, promised: str | None = None, finished: str | None = None,
            returned: str | None = None, withdrawn: str | None = None,
            paused: str | None = None, channel: int = 1, requests: int = 0,
            supplement_days: int = 0, result_at: str | None = None, result_channel=None,
            unit: str = "H97.101", procedure: str = "P1", **flags: bool) -> dict:
    return {
        "dossier_key": f"k{received}{finished}{promised}{channel}{requests}{unit}{procedure}",
        "source_unit_id": unit, "unit_code": unit, "procedure_code": procedure,
        "intake_channel": channel, "received_at": at(received),
        "promised_date": dt.date.fromisoformat(promised) if promised else None,
        "finished_at": at(finished), "returned_at": at(returned),
        "withdrawn_at": at(withdrawn), "paused_at": at(paused),
        "result_returned_at": at(result_at), "result_channel": result_channel,
        "additional_requests": requests, "supplement_days": supplement_days,
        "inputs_digitised": flags.get("inputs_digitised", False),
        "result_digitised": flags.get("result_digitised", False),
        "e_result": flags.get("e_result", False),
        "fee_bearing": flags.get("fee_bearing", False),
        "paid_online": flags.get("paid_online", False),
        "synced_to_portal": flags.get("synced_to_portal", False),
    }


def counters(rows: list[dict], month: Month = OCT) -> dict[str, int]:
    """Counters of the single (unit, procedure) group the rows form."""
    table = monthly_counters(pa.Table.from_pylist(rows, schema=DOSSIER_SCHEMA), month)
    assert table.num_rows == 1, table.to_pylist()
    return {k: v for k, v in table.to_pylist()[0].items() if k in COUNTER_COLUMNS}


def only(**expected: int) -> dict[str, int]:
    """All counters zero except those named."""
    return {c: expected.get(c, 0) for c in COUNTER_COLUMNS}


def test_resolved_before_promised_date_counts_early() -> None:
    got = counters([dossier("2025-10-01 08:00", promised="2025-10-10",
                            finished="2025-10-08 15:00")])
    assert got == only(received_total=1, received_in_person=1, resolved_total=1,
                       resolved_early=1)


def test_resolved_on_promised_date_counts_on_time_whatever_the_hour() -> None:
    got = counters([dossier("2025-10-01 08:00", promised="2025-10-10",
                            finished="2025-10-10 23:59")])
    assert got["resolved_on_time"] == 1 and got["resolved_late"] == 0


def test_resolved_after_promised_date_counts_late() -> None:
    got = counters([dossier("2025-10-01 08:00", promised="2025-10-10",
                            finished="2025-10-11 00:01")])
    assert got["resolved_late"] == 1 and got["resolved_on_time"] == 0


def test_no_promised_date_counts_on_time() -> None:
    got = counters([dossier("2025-10-01 08:00", finished="2025-10-20 10:00")])
    assert (got["resolved_on_time"], got["resolved_early"], got["resolved_late"]) == (1, 0, 0)


def test_same_day_resolution_with_same_day_promise_is_on_time() -> None:
    got = counters([dossier("2025-10-06 08:00", promised="2025-10-06",
                            finished="2025-10-06 16:30", channel=2)])
    assert got == only(received_total=1, received_online=1, resolved_total=1,
                       resolved_on_time=1)


def test_days_spent_supplying_documents_do_not_count_against_the_unit() -> None:
    # Promised 10th; applicant took 3 days for one additional request: due 13th.
    got = counters([dossier("2025-10-01 08:00", promised="2025-10-10", requests=1,
                            supplement_days=3, finished="2025-10-12 09:00")])
    assert got["resolved_early"] == 1


def test_more_than_one_additional_document_request_counts_late() -> None:
    got = counters([dossier("2025-10-01 08:00", promised="2025-10-20", requests=2,
                            supplement_days=2, finished="2025-10-05 09:00")])
    assert (got["resolved_late"], got["resolved_early"]) == (1, 0)


def test_month_boundary_received_before_and_resolved_in_month_is_carried_over() -> None:
    rows = [dossier("2025-09-25 10:00", promised="2025-10-03", finished="2025-10-02 10:00"),
            # finished before October: not part of October at all
            dossier("2025-09-20 10:00", promised="2025-09-30", finished="2025-09-30 17:00"),
            dossier("2025-10-01 09:00", promised="2025-10-02", finished="2025-10-02 09:00")]
    got = counters(rows)
    assert got == only(carried_over=1, received_total=1, received_in_person=1,
                       resolved_total=2, resolved_early=1, resolved_on_time=1)


def test_still_in_progress_at_month_end_split_by_promised_date() -> None:
    rows = [dossier("2025-10-20 08:00", promised="2025-11-05"),       # due after: on time
            dossier("2025-10-02 08:00", promised="2025-10-31"),       # due last day: on time
            dossier("2025-10-02 08:00", promised="2025-10-30"),       # due before: overdue
            dossier("2025-10-02 08:00"),                              # no due date: on time
            dossier("2025-10-15 08:00", promised="2025-10-20", finished="2025-11-03 08:00")]
    got = counters(rows)
    assert (got["in_progress_on_time"], got["in_progress_overdue"]) == (3, 2)
    assert got["resolved_total"] == 0


def test_paused_returned_and_withdrawn_are_counted_once_and_balance() -> None:
    rows = [dossier("2025-09-10 08:00", promised="2025-09-20", paused="2025-09-15 08:00"),
            dossier("2025-10-03 08:00", promised="2025-10-13", paused="2025-10-05 08:00"),
            dossier("2025-10-03 08:00", returned="2025-10-04 08:00"),
            dossier("2025-10-03 08:00", withdrawn="2025-10-09 08:00"),
            dossier("2025-09-28 08:00", returned="2025-09-29 08:00")]  # not in October
    got = counters(rows)
    assert got == only(carried_over=1, received_total=3, received_in_person=3, paused=2,
                       returned=1, withdrawn=1)
    assert (got["carried_over"] + got["received_total"]
            == got["resolved_total"] + got["in_progress_on_time"] + got["in_progress_overdue"]
            + got["paused"] + got["returned"] + got["withdrawn"])


def test_midnight_in_hanoi_decides_the_month_not_utc() -> None:
    # 2025-10-31 23:30 in Hà Nội is 16:30 UTC: October. 2025-11-01 00:30 local is
    # 2025-10-31 17:30 UTC, but in Hà Nội it is November.
    rows = [dossier("2025-10-31 23:30"), dossier("2025-11-01 00:30")]
    assert counters(rows)["received_total"] == 1
    assert counters(rows, Month(2025, 11))["received_total"] == 1
    assert counters(rows, Month(2025, 11))["carried_over"] == 1


def test_postal_channel_postal_returns_and_flags() -> None:
    rows = [dossier("2025-10-02 08:00", channel=3, promised="2025-10-09",
                    finished="2025-10-08 10:00", result_at="2025-10-09 09:00",
                    result_channel=3, inputs_digitised=True, result_digitised=True,
                    e_result=True, fee_bearing=True, paid_online=True,
                    synced_to_portal=True),
            dossier("2025-10-02 08:00", channel=2, fee_bearing=True, inputs_digitised=True),
            dossier("2025-09-29 08:00", finished="2025-09-30 10:00",
                    result_at="2025-10-01 10:00", result_channel=3)]
    got = counters(rows)
    assert got["received_postal"] == 1 and got["received_online"] == 1
    # Counted in the month the dossier was resolved: the September dossier whose result was
    # mailed on 1 October is not October's (it is not among October's resolved dossiers).
    assert got["results_returned_postal"] == 1
    assert got["received_inputs_digitised"] == 2
    assert (got["resolved_result_digitised"], got["resolved_e_result"]) == (1, 1)
    assert (got["received_fee_bearing"], got["received_paid_online"]) == (2, 1)
    assert got["received_synced"] == 1


def test_postal_return_counts_in_the_month_resolved_even_when_mailed_the_next() -> None:
    rows = [dossier("2025-10-20 08:00", promised="2025-10-31", finished="2025-10-31 16:00",
                    result_at="2025-11-01 09:00", result_channel=3),
            dossier("2025-10-20 08:00", promised="2025-10-31", finished="2025-10-30 16:00",
                    result_at="2025-10-31 09:00", result_channel=1)]
    october = counters(rows)
    assert (october["resolved_total"], october["results_returned_postal"]) == (2, 1)
    november = monthly_counters(pa.Table.from_pylist(rows, schema=DOSSIER_SCHEMA),
                                Month(2025, 11))
    assert november.num_rows == 0  # nothing of November: the mailing alone does not count


def test_counters_are_grouped_by_unit_and_procedure() -> None:
    rows = [dossier("2025-10-02 08:00", procedure="P1"),
            dossier("2025-10-02 09:00", procedure="P2"),
            dossier("2025-10-02 10:00", procedure="P2", unit="H97.102")]
    table = monthly_counters(pa.Table.from_pylist(rows, schema=DOSSIER_SCHEMA), OCT)
    keys = [(r["unit_code"], r["procedure_code"], r["received_total"])
            for r in table.to_pylist()]
    assert keys == [("H97.101", "P1", 1), ("H97.101", "P2", 1), ("H97.102", "P2", 1)]
    assert set(table.column("period_id").to_pylist()) == {202510}


def test_parquet_input_gives_the_same_counters(tmp_path) -> None:
    import pyarrow.parquet as pq

    rows = [dossier("2025-10-02 08:00", promised="2025-10-05", finished="2025-10-04 08:00"),
            dossier("2025-09-02 08:00", promised="2025-09-05")]
    table = pa.Table.from_pylist(rows, schema=DOSSIER_SCHEMA)
    pq.write_table(table.slice(0, 1), tmp_path / "a.parquet")
    pq.write_table(table.slice(1), tmp_path / "b.parquet")
    from_files = monthly_counters([tmp_path / "a.parquet", tmp_path / "b.parquet"], OCT)
    assert from_files.to_pylist() == monthly_counters(table, OCT).to_pylist()


@pytest.mark.parametrize("month", [Month(2025, 9), Month(2025, 12)])
def test_months_without_activity_give_no_rows(month: Month) -> None:
    rows = [dossier("2025-10-02 08:00", finished="2025-10-03 08:00")]
    table = monthly_counters(pa.Table.from_pylist(rows, schema=DOSSIER_SCHEMA), month)
    assert table.num_rows == 0
