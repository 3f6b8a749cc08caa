"""The monthly timetable: which month each kind of run loads.

Expected months are written out by hand from the calendar: January 2025 starts at
2025-01-01 00:00 in Vietnam, which is 2024-12-31 17:00 UTC. The timetable goes through
Airflow's own serializer and deserializer first, as the scheduler sees it (which also
proves the plugin registers it)."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from airflow._shared.timezones.timezone import parse
from airflow.serialization.decoders import decode_timetable
from airflow.serialization.encoders import encode_timetable
from airflow.timetables.base import TimeRestriction

from plugins.timetables import VietnamMonths

VN = dt.timezone(dt.timedelta(hours=7))


@pytest.fixture(scope="module")
def timetable() -> VietnamMonths:
    decoded = decode_timetable(encode_timetable(VietnamMonths()))
    assert type(decoded) is VietnamMonths
    return decoded


def months_between(timetable: VietnamMonths, first: str, last: str) -> list[str]:
    """What a backfill selects: the runs between two bounds as the CLI parses them
    (`DAG.iter_dagrun_infos_between` asks the timetable the same way)."""
    restriction = TimeRestriction(parse(first), parse(last), catchup=True)
    found, info = [], None
    while (info := timetable.next_dagrun_info_v2(last_dagrun_info=info,
                                                 restriction=restriction)) is not None:
        start = info.data_interval.start.astimezone(VN)
        end = info.data_interval.end.astimezone(VN)
        assert (start.day, start.hour, end.day, end.hour) == (1, 0, 1, 0)
        found.append(f"{start:%Y-%m}")
    return found


def test_a_backfill_of_a_calendar_year_loads_january_to_december(timetable) -> None:
    assert months_between(timetable, "2025-01-01", "2025-12-31") == [
        f"2025-{m:02d}" for m in range(1, 13)]


@pytest.mark.parametrize(("first", "last", "expected"), [
    ("2025-01-01T00:00:00+07:00", "2025-01-01T00:00:00+07:00", ["2025-01"]),
    ("2025-03-01", "2025-03-01", ["2025-03"]),
    ("2025-03-02", "2025-04-30", ["2025-04"]),  # March starts before the first bound
    ("2019-01-01", "2019-02-28", ["2019-01", "2019-02"]),
])
def test_backfill_bounds_are_vietnamese_calendar_dates(timetable, first, last,
                                                       expected) -> None:
    assert months_between(timetable, first, last) == expected


@pytest.mark.parametrize(("logical", "expected"), [
    ("2025-01-01", "2025-01"),  # a date (UTC midnight, 07:00 in Vietnam)
    ("2025-01-01T00:00:00+07:00", "2025-01"),  # a backfill run's own logical date
    ("2024-12-31T17:00:00+00:00", "2025-01"),  # the same instant in UTC
    ("2025-01-17T10:00:00+07:00", "2025-01"),
    ("2025-01-31T18:00:00+00:00", "2025-02"),  # 01:00 on 1 February in Vietnam
])
def test_a_manual_run_loads_the_month_its_logical_date_falls_in(timetable, logical,
                                                                expected) -> None:
    interval = timetable.infer_manual_data_interval(run_after=parse(logical))
    start, end = interval.start.astimezone(VN), interval.end.astimezone(VN)
    assert f"{start:%Y-%m}" == expected
    assert (start.day, start.hour, end.day, end.hour, end.month % 12) == (
        1, 0, 1, 0, (start.month + 1) % 12)


def test_the_scheduler_still_runs_each_month_after_it_ends(timetable) -> None:
    start = pendulum.datetime(2019, 1, 1, tz="Asia/Ho_Chi_Minh")
    first = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(start, None, catchup=True))
    assert first.data_interval.start == start
    assert first.run_after == pendulum.datetime(2019, 2, 1, tz="Asia/Ho_Chi_Minh")
    following = timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval,
        restriction=TimeRestriction(start, None, catchup=True))
    assert following.data_interval.start == pendulum.datetime(2019, 2, 1,
                                                              tz="Asia/Ho_Chi_Minh")
