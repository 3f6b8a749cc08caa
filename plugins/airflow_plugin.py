"""What this project registers with Airflow (entry point `airflow.plugins` in pyproject.toml):
the monthly timetable, so that every Airflow process can deserialize the DAGs that use it."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from plugins.timetables import VietnamMonths


class ReformstatsPlugin(AirflowPlugin):
    name = "reformstats"
    timetables = [VietnamMonths]  # noqa: RUF012 (Airflow reads the class attribute)
