"""Calendar periods (kỳ báo cáo): months, and the windows Airflow hands us.

A pipeline partition is one calendar month in Vietnam's time zone. Airflow gives a data
interval [start, end); we turn it into a `Month` and refuse anything that is not exactly one
calendar month, so a misconfigured schedule fails loudly instead of loading the wrong month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, e.g. Month(2025, 10). `str()` gives '2025-10'."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")
        if not 2000 <= self.year <= 2100:
            raise ValueError(f"year out of range: {self.year}")

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, text: str) -> Month:
        """Parse 'YYYY-MM'."""
        try:
            year, month = text.strip().split("-")
            return cls(int(year), int(month))
        except ValueError as exc:
            raise ValueError(f"expected a month as YYYY-MM, got {text!r}") from exc

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - dt.timedelta(days=1)

    @property
    def period_id(self) -> int:
        """Integer key used by dim_period, e.g. 202510."""
        return self.year * 100 + self.month

    @property
    def quarter(self) -> int:
        return (self.month - 1) // 3 + 1

    @property
    def half(self) -> int:
        return 1 if self.month <= 6 else 2

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def index(self) -> int:
        """Months since year 0; handy for drifts and distances."""
        return self.year * 12 + self.month - 1


def month_range(first: Month, last: Month) -> list[Month]:
    """All months from `first` to `last`, inclusive."""
    if last < first:
        raise ValueError(f"empty range: {first} .. {last}")
    months, current = [], first
    while current <= last:
        months.append(current)
        current = current.next()
    return months


def month_of_interval(start: dt.datetime | None, end: dt.datetime | None) -> Month:
    """The month a data interval [start, end) covers, read in Vietnam's time zone.

    Raises ValueError when the interval is missing (a manual run without one) or is not
    exactly one calendar month, so a wrong schedule never loads a wrong partition.
    """
    if start is None or end is None:
        raise ValueError(
            "this task needs a data interval; trigger the DAG for a logical date "
            "(e.g. `airflow dags trigger -l 2025-11-01`) instead of a bare manual run"
        )
    local_start = start.astimezone(VN_TZ)
    local_end = end.astimezone(VN_TZ)
    month = Month(local_start.year, local_start.month)
    expected_end = month.next().first_day
    if (
        local_start.date() != month.first_day
        or local_end.date() != expected_end
        or local_start.time() != local_end.time()
    ):
        raise ValueError(
            f"data interval {local_start.isoformat()} .. {local_end.isoformat()} is not one "
            "calendar month in Asia/Ho_Chi_Minh"
        )
    return month
