"""The monthly partition timetable: one run per calendar month in Vietnam time.

Airflow's `CronDataIntervalTimetable` gives each scheduled run the month before its run
time, which is what we want, but two of its other answers are not:
- a manual run for a logical date gets the *previous* complete interval
  (`infer_manual_data_interval`), so a run triggered for 2025-01-01 loads December while a
  backfill run with the same logical date loads January;
- a backfill's `--from-date 2025-01-01` is an instant (UTC midnight unless the deployment
  set another default time zone), later than January's logical date (2025-01-01 00:00 in
  Vietnam, 17:00 UTC the day before), so January is left out.

`VietnamMonths` keeps the scheduled behaviour and fixes both: a manual run loads the month
its logical date falls in, and backfill bounds are read as Vietnamese calendar dates (their
wall-clock reading in Vietnam time), as Airflow 3.3 reads the bounds of its partitioned
timetables. Registered as a plugin (`ReformstatsPlugin`, entry point `airflow.plugins`), so
the scheduler, the API server and `dag.test()` can all deserialize it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable

VIETNAM = "Asia/Ho_Chi_Minh"
MONTHLY = "0 0 1 * *"


class VietnamMonths(CronDataIntervalTimetable):
    """Calendar months in Vietnam time: a run's data interval is one whole month."""

    description = "one run per calendar month (Asia/Ho_Chi_Minh), after it ends"

    def __init__(self, cron: str = MONTHLY, timezone: Any = VIETNAM) -> None:
        super().__init__(cron, timezone)

    @property
    def summary(self) -> str:
        return "monthly (Vietnam time)"

    def infer_manual_data_interval(self, *, run_after: dt.datetime) -> DataInterval:
        """The month `run_after` (a manual run's logical date) falls in."""
        start = self._align_to_prev(run_after)
        return DataInterval(start=start, end=self._get_next(start))

    def _local(self, moment: dt.datetime | None) -> dt.datetime | None:
        """A bound's wall-clock reading, as a moment in Vietnam time."""
        return None if moment is None else self.localize_partition_datetime(moment)

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        restriction = TimeRestriction(self._local(restriction.earliest),
                                      self._local(restriction.latest), restriction.catchup)
        return super().next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval,
            restriction=restriction)
