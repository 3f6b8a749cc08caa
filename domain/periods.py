"""Calendar periods (kỳ báo cáo): months, the longer periods the portals publish, and the
windows Airflow hands us.

A pipeline run is one calendar month in Vietnam's time zone. Airflow gives a data
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


PERIOD_TYPES = ("month", "quarter", "half", "year", "year_to_date")
# period_id = year * 100 + offset + number: one integer key per period of every type, so
# a quarter, a half, a year and a year to date are partitions of their own beside months.
_OFFSET = {"month": 0, "quarter": 20, "half": 30, "year": 0, "year_to_date": 40}
_LAST_MONTH = {"month": lambda n: n, "quarter": lambda n: 3 * n, "half": lambda n: 6 * n,
               "year": lambda n: 12, "year_to_date": lambda n: n}
_FIRST_MONTH = {"month": lambda n: n, "quarter": lambda n: 3 * n - 2,
                "half": lambda n: 6 * n - 5, "year": lambda n: 1, "year_to_date": lambda n: 1}
_NUMBERS = {"month": range(1, 13), "quarter": range(1, 5), "half": range(1, 3),
            "year": range(0, 1), "year_to_date": range(1, 13)}


@dataclass(frozen=True)
class Period:
    """A reporting period: a month, quarter (quý), half (6 tháng), year (năm) or the year
    to date through a month (lũy kế). `number` is the month, quarter or half (0 for a
    year). Labels: 2026-03, 2026-Q1, 2026-H1, 2026, 2026-YTD03."""

    period_type: str
    year: int
    number: int

    def __post_init__(self) -> None:
        if self.period_type not in PERIOD_TYPES:
            raise ValueError(f"period type must be one of {PERIOD_TYPES}, "
                             f"got {self.period_type!r}")
        if self.number not in _NUMBERS[self.period_type]:
            raise ValueError(f"{self.period_type} number out of range: {self.number}")
        Month(self.year, 1)  # checks the year

    @classmethod
    def of_month(cls, month: Month) -> Period:
        return cls("month", month.year, month.month)

    @property
    def label(self) -> str:
        if self.period_type == "month":
            return f"{self.year:04d}-{self.number:02d}"
        if self.period_type == "year":
            return f"{self.year:04d}"
        prefix = {"quarter": "Q", "half": "H", "year_to_date": "YTD"}[self.period_type]
        width = 2 if self.period_type == "year_to_date" else 1
        return f"{self.year:04d}-{prefix}{self.number:0{width}d}"

    def __str__(self) -> str:
        return self.label

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse a label (see the class docstring)."""
        value = text.strip().upper()
        try:
            if len(value) == 4:
                return cls("year", int(value), 0)
            year, rest = value.split("-", 1)
            for prefix, period_type in (("YTD", "year_to_date"), ("Q", "quarter"),
                                        ("H", "half")):
                if rest.startswith(prefix):
                    return cls(period_type, int(year), int(rest[len(prefix):]))
            return cls("month", int(year), int(rest))
        except ValueError as exc:
            raise ValueError(f"expected a period like 2026-03, 2026-Q1, 2026-H1, 2026 or "
                             f"2026-YTD03, got {text!r}") from exc

    @classmethod
    def from_id(cls, period_id: int) -> Period:
        """The period of a dim_period key (202603, 202621, 202631, 202600, 202643)."""
        year, rest = divmod(int(period_id), 100)
        for period_type in ("year_to_date", "half", "quarter", "month", "year"):
            number = rest - _OFFSET[period_type]
            if number in _NUMBERS[period_type] and (period_type != "year" or rest == 0):
                return cls(period_type, year, number)
        raise ValueError(f"no period has the key {period_id}")

    @property
    def period_id(self) -> int:
        """Integer key of dim_period: 202603 (month), 202621 (Q1), 202631 (H1), 202600
        (year), 202643 (year to date through March)."""
        return self.year * 100 + _OFFSET[self.period_type] + self.number

    @property
    def first_month(self) -> Month:
        return Month(self.year, _FIRST_MONTH[self.period_type](self.number))

    @property
    def last_month(self) -> Month:
        return Month(self.year, _LAST_MONTH[self.period_type](self.number))

    @property
    def first_day(self) -> dt.date:
        return self.first_month.first_day

    @property
    def last_day(self) -> dt.date:
        return self.last_month.last_day

    @property
    def months(self) -> list[Month]:
        return month_range(self.first_month, self.last_month)


def periods_ending(month: Month, period_types: tuple[str, ...] | list[str], *,
                   latest_complete: Month | None = None) -> list[Period]:
    """The periods of the given types whose last month is `month` (a month's run loads
    them): the month; a quarter after March, June, September and December; a half after
    June and December; the year after December; and the year to date, which the portal
    answers only as "the year so far": so only while `month` is the latest complete month
    (`latest_complete`, when given; a backfill or a later rerun cannot ask for it)."""
    candidates = {"month": Period("month", month.year, month.month),
                  "quarter": Period("quarter", month.year, month.quarter),
                  "half": Period("half", month.year, month.half),
                  "year": Period("year", month.year, 0),
                  "year_to_date": Period("year_to_date", month.year, month.month)}
    askable = {t for t in period_types
               if t != "year_to_date" or latest_complete in (None, month)}
    return [candidates[t] for t in PERIOD_TYPES
            if t in askable and candidates[t].last_month == month]


def vietnam_time(text: str) -> dt.datetime:
    """A moment from ISO text; Vietnam time when it has no offset. Raises ValueError on
    anything else."""
    moment = dt.datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ)


def latest_complete_month(now: dt.datetime | None = None) -> Month:
    """The last whole month before `now` (default: the present), in Vietnam's time."""
    today = (now or dt.datetime.now(VN_TZ)).astimezone(VN_TZ).date()
    return Month(today.year, today.month).previous()


def all_periods(first_year: int, last_year: int) -> list[Period]:
    """Every period of every type in the years given (dim_period's rows)."""
    return [Period(t, year, n) for year in range(first_year, last_year + 1)
            for t in PERIOD_TYPES for n in _NUMBERS[t]]


def month_range(first: Month, last: Month) -> list[Month]:
    """All months from `first` to `last`, inclusive."""
    if last < first:
        raise ValueError(f"empty range: {first} .. {last}")
    months, current = [], first
    while current <= last:
        months.append(current)
        current = current.next()
    return months


def month_of_run(logical_date: dt.datetime | None, start: dt.datetime | None,
                 end: dt.datetime | None) -> Month:
    """The month a monthly DAG's run loads: the one its logical date falls in, in Vietnam's
    time zone (a scheduled or backfill run's logical date is its month's first instant; a
    manual run may be given any instant of the month). Without a logical date, the month
    its data interval covers (see `month_of_interval`, which raises without one)."""
    if logical_date is None:
        return month_of_interval(start, end)
    local = logical_date.astimezone(VN_TZ)
    return Month(local.year, local.month)


def month_of_interval(start: dt.datetime | None, end: dt.datetime | None) -> Month:
    """The month a data interval [start, end) covers, read in Vietnam's time zone.

    Raises ValueError when the interval is missing (a manual run without one) or is not
    exactly one calendar month, so a wrong schedule never loads a wrong partition.
    """
    if start is None or end is None:
        raise ValueError(
            "this task needs a data interval: give the run a logical date in the month to "
            "load (e.g. `airflow dags trigger DAG -l 2025-11-01` loads November 2025)"
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
