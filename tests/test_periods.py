import datetime as dt

import pytest

from domain.periods import VN_TZ, Month, month_of_interval, month_range


def test_month_navigation_wraps_years() -> None:
    assert Month(2025, 12).next() == Month(2026, 1)
    assert Month(2026, 1).previous() == Month(2025, 12)
    assert Month(2024, 2).last_day == dt.date(2024, 2, 29)
    assert [str(m) for m in month_range(Month(2025, 11), Month(2026, 2))] == [
        "2025-11", "2025-12", "2026-01", "2026-02"]


def test_interval_in_vietnam_time_gives_its_calendar_month() -> None:
    start = dt.datetime(2025, 9, 30, 17, 0, tzinfo=dt.UTC)  # 2025-10-01 00:00 in Hà Nội
    end = dt.datetime(2025, 10, 31, 17, 0, tzinfo=dt.UTC)
    assert month_of_interval(start, end) == Month(2025, 10)


def test_interval_that_is_not_one_month_fails_loudly() -> None:
    start = dt.datetime(2025, 10, 1, tzinfo=VN_TZ)
    with pytest.raises(ValueError, match="not one calendar month"):
        month_of_interval(start, dt.datetime(2025, 10, 2, tzinfo=VN_TZ))


def test_missing_interval_on_manual_run_fails_with_hint() -> None:
    with pytest.raises(ValueError, match="data interval"):
        month_of_interval(None, None)
