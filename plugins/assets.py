"""Airflow Assets for the registry's datasets: a load publishes its table's Asset, and the
marts DAG is scheduled on the Assets of its inputs. Light: DAG files use it at parse time.
"""

from __future__ import annotations

from airflow.sdk import Asset

from registry.datasets import Dataset


def asset_of(dataset: Dataset) -> Asset:
    """The Asset a load of `dataset` publishes (name = table, URI reformstats://...)."""
    if not dataset.asset_uri:
        raise ValueError(f"dataset {dataset.name} is not loaded into a table: no Asset")
    return Asset(name=dataset.table, uri=dataset.asset_uri, group="warehouse")


def announce_month(outlet_events: object, dataset: Dataset, month: str, **extra: str) -> None:
    """Say which month (and partition) a load changed, on the event of its Asset, so a
    downstream DAG knows what to rebuild without re-reading the warehouse."""
    outlet_events[asset_of(dataset)].extra = {"dataset": dataset.name, "month": month,
                                              **extra}


def months_from_events(triggering_asset_events: object) -> list[str]:
    """The months ('YYYY-MM') the asset events that triggered a run name, sorted; events
    without a month (not published by our loads) are ignored."""
    months = set()
    for events in (triggering_asset_events or {}).values():
        for event in events:
            month = (event.extra or {}).get("month")
            if month:
                months.add(str(month))
    return sorted(months)
