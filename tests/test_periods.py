import datetime as dt

import pytest

from domain.periods import VN_TZ, Month, month_of_interval, month_of_run, month_range


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


@pytest.mark.parametrize(("logical", "expected"), [
    (dt.datetime(2024, 12, 31, 17, 0, tzinfo=dt.UTC), Month(2025, 1)),  # 00:00 on 1 Jan
    (dt.datetime(2025, 1, 31, 16, 59, tzinfo=dt.UTC), Month(2025, 1)),  # 23:59 on 31 Jan
    (dt.datetime(2025, 3, 15, 9, 30, tzinfo=VN_TZ), Month(2025, 3)),
])
def test_a_run_loads_the_month_its_logical_date_falls_in(logical, expected) -> None:
    # whatever interval Airflow gave it (the CLI's manual runs get the current one)
    today = (dt.datetime(2026, 12, 1, tzinfo=VN_TZ), dt.datetime(2027, 1, 1, tzinfo=VN_TZ))
    assert month_of_run(logical, *today) == expected
    assert month_of_run(None, dt.datetime(2025, 10, 1, tzinfo=VN_TZ),
                        dt.datetime(2025, 11, 1, tzinfo=VN_TZ)) == Month(2025, 10)
    with pytest.raises(ValueError, match="data interval"):
        month_of_run(None, None, None)


@pytest.mark.parametrize(("label", "period_id", "first", "last"), [
    ("2026-03", 202603, "2026-03-01", "2026-03-31"),
    ("2026-Q1", 202621, "2026-01-01", "2026-03-31"),
    ("2025-Q4", 202524, "2025-10-01", "2025-12-31"),
    ("2026-H1", 202631, "2026-01-01", "2026-06-30"),
    ("2025", 202500, "2025-01-01", "2025-12-31"),
    ("2026-YTD03", 202643, "2026-01-01", "2026-03-31"),
    ("2025-YTD12", 202552, "2025-01-01", "2025-12-31"),
])
def test_every_period_type_has_its_own_id_and_days(label, period_id, first, last) -> None:
    from domain.periods import Period

    period = Period.parse(label)
    assert (str(period), period.period_id) == (label, period_id)
    assert (str(period.first_day), str(period.last_day)) == (first, last)


@pytest.mark.parametrize(("month", "labels"), [
    ((2026, 2), ["2026-02", "2026-YTD02"]),
    ((2026, 3), ["2026-03", "2026-Q1", "2026-YTD03"]),
    ((2026, 6), ["2026-06", "2026-Q2", "2026-H1", "2026-YTD06"]),
    ((2025, 12), ["2025-12", "2025-Q4", "2025-H2", "2025", "2025-YTD12"]),
])
def test_a_months_run_loads_the_periods_ending_with_it(month, labels) -> None:
    from domain.periods import PERIOD_TYPES, Month, periods_ending

    assert [str(p) for p in periods_ending(Month(*month), PERIOD_TYPES)] == labels
    assert [str(p) for p in periods_ending(Month(*month), ["month"])] == labels[:1]


def test_the_year_to_date_is_asked_for_only_in_the_month_after() -> None:
    """The portal answers a year to date with the year so far: a backfill of June 2026
    run in December can no longer ask for 2026-YTD06."""
    from domain.periods import PERIOD_TYPES, Month, latest_complete_month, periods_ending

    december = dt.datetime(2026, 12, 3, 10, 0, tzinfo=VN_TZ)
    assert latest_complete_month(december) == Month(2026, 11)
    assert latest_complete_month(dt.datetime(2026, 11, 30, 17, 30, tzinfo=dt.UTC)) == Month(
        2026, 11)  # 00:30 on 1 December in Vietnam
    june = [str(p) for p in periods_ending(Month(2026, 6), PERIOD_TYPES,
                                           latest_complete=Month(2026, 11))]
    assert june == ["2026-06", "2026-Q2", "2026-H1"]
    assert [str(p) for p in periods_ending(Month(2026, 11), PERIOD_TYPES,
                                           latest_complete=Month(2026, 11))] == [
        "2026-11", "2026-YTD11"]


def test_a_bad_period_label_is_refused_clearly() -> None:
    from domain.periods import Period

    for text in ("2026-Q5", "2026-13", "26-03", "2026-H3"):
        with pytest.raises(ValueError, match=r"expected a period like|out of range|month must"):
            Period.parse(text)
