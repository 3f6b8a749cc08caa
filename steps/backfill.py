"""A backfill without a scheduler: month after month, the same steps the monthly DAGs' tasks
call, one source at a time, into the warehouse (`reformstats backfill`).

Work is a list of (source, month) items: `national_portal` (every enabled dataset of the
registry, for the periods that end with the month), `onestop_<province>` (one system's
dossiers and aggregates), `eoffice_<province>` (an e-office system's document statistics,
for the provinces whose figures come by API) and `marts` (the month's indicators and
scores, after the facts). Each partition is one transaction that replaces itself, so a
month interrupted half-way is loaded again whole on the next run, never twice;
`backfill_month` records each item that finished (done or failed), and a rerun skips the
done ones unless asked to reprocess.

Sources' rate limits hold as in the DAGs: one client per source at a time, throttled by its
Connection's or config/sources.yaml's `rate_per_second`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from domain.periods import Month, month_range
from registry.settings import Settings

log = logging.getLogger(__name__)

SOURCES = ("national_portal", "onestop", "eoffice")
MARTS = "marts"


@dataclass(frozen=True)
class Work:
    """One source's month: `national_portal`, `onestop_<province>`,
    `eoffice_<province>` or `marts`."""

    source: str
    month: Month

    def __str__(self) -> str:
        return f"{self.source} {self.month}"


@dataclass
class Outcome:
    work: Work
    status: str  # done | failed | skipped
    partitions: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def plan(sources: Iterable[str], first: Month, last: Month, settings: Settings, *,
         marts: bool = True) -> list[Work]:
    """The work of a backfill, month by month: the national portal first (its lists
    register the departments the one-stop systems report), each one-stop system, then the
    marts of the month."""
    sources = list(dict.fromkeys(sources))
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown source {', '.join(unknown)}; known: {', '.join(SOURCES)}")
    systems = [f"onestop_{code}" for code in sorted(settings.sources.onestop.provinces)]
    offices = [f"eoffice_{code}" for code in sorted(settings.sources.eoffice.provinces)]
    work = []
    for month in month_range(first, last):
        if "national_portal" in sources:
            work.append(Work("national_portal", month))
        if "onestop" in sources:
            work += [Work(system, month) for system in systems]
        if "eoffice" in sources:
            work += [Work(system, month) for system in offices]
        if marts:
            work.append(Work(MARTS, month))
    return work


def done(settings: Settings, work: list[Work]) -> set[Work]:
    """The items a backfill finished before (`backfill_month` status done)."""
    from warehouse.engine import make_engine
    from warehouse.schema import backfill_month

    engine = make_engine(settings.warehouse_url, create=False, read_only=True)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(backfill_month.c.source, backfill_month.c.period_id)
                                .where(backfill_month.c.status == "done")).all()
    finally:
        engine.dispose()
    finished = set(rows)
    return {w for w in work if (w.source, w.month.period_id) in finished}


def record(settings: Settings, outcome: Outcome, run_id: str, started_at: Any,
           finished_at: Any) -> None:
    """Write (replace) the item's `backfill_month` row."""
    from warehouse.engine import lock_for_write, transaction
    from warehouse.schema import backfill_month

    key = {"source": outcome.work.source, "period_id": outcome.work.month.period_id}
    with transaction(settings.warehouse_url) as conn:
        lock_for_write(conn, "backfill_month")
        conn.execute(sa.delete(backfill_month).where(
            *(backfill_month.c[k] == v for k, v in key.items())))
        conn.execute(sa.insert(backfill_month).values(
            **key, status=outcome.status, partitions=outcome.partitions, run_id=run_id,
            started_at=started_at, finished_at=finished_at,
            error=outcome.errors[0][:1000] if outcome.errors else None))


Configs = Mapping[str, Any]  # source -> client configuration (NationalPortalConfig, …)
Describe = Callable[[BaseException], str]


def _national_portal(month: Month, config: Any, settings: Settings, run_id: str,
                     describe: Describe) -> Iterator[str | None]:
    """Each dataset and period of the month: extract, validate, load (a failure is that
    partition's alone, as in the DAG); yields None per loaded partition, else the error."""
    from steps import national_portal as portal

    for dataset in settings.registry.of_source("national_portal", kind="fact"):
        for period in portal.periods_to_load(month, dataset.period_types):
            try:
                ref = portal.extract(dataset.name, period, config, settings)
                if ref.get("not_published"):
                    continue
                portal.load(portal.validate(ref, settings), run_id, settings)
                yield None
            except Exception as exc:
                yield f"{dataset.name} {period}: {describe(exc)}"


def _onestop(system: str, month: Month, config: Any, settings: Settings, run_id: str,
             describe: Describe) -> Iterator[str | None]:
    from steps import onestop

    province = system.removeprefix("onestop_")
    try:
        validated = onestop.validate_dossiers(
            onestop.extract_dossiers(province, month, config, settings), settings)
        aggregates = onestop.extract_aggregates(province, month, config, settings)
        onestop.load_month(validated, aggregates, run_id, settings)
        yield None
    except Exception as exc:
        yield f"dossiers {month}: {describe(exc)}"


def _eoffice(system: str, month: Month, config: Any, settings: Settings, run_id: str,
             describe: Describe) -> Iterator[str | None]:
    from steps import eoffice

    try:
        ref = eoffice.extract(system.removeprefix("eoffice_"), month, config, settings)
        if not ref.get("not_published"):
            eoffice.load(eoffice.validate(ref, settings), run_id, settings)
            yield None
    except Exception as exc:
        yield f"documents {month}: {describe(exc)}"


def _marts(month: Month, settings: Settings, run_id: str,
           describe: Describe) -> Iterator[str | None]:
    from steps.marts import build_indicators
    from steps.scoring import score_month

    try:
        build_indicators(month, run_id, settings)
        yield None
        yield from (None for _ in score_month(month, run_id, settings))
    except Exception as exc:
        yield f"marts {month}: {describe(exc)}"


def run(work: Work, settings: Settings, configs: Configs, run_id: str,
        describe: Describe = lambda exc: f"{type(exc).__name__}: {exc}") -> Outcome:
    """Load one item; its partitions each in their own transaction."""
    if work.source == "national_portal":
        results = _national_portal(work.month, configs["national_portal"], settings, run_id,
                                   describe)
    elif work.source.startswith("onestop_"):
        results = _onestop(work.source, work.month, configs[work.source], settings, run_id,
                           describe)
    elif work.source.startswith("eoffice_"):
        results = _eoffice(work.source, work.month, configs[work.source], settings, run_id,
                           describe)
    elif work.source == MARTS:
        results = _marts(work.month, settings, run_id, describe)
    else:
        raise ValueError(f"no such backfill source: {work.source}")
    outcome = Outcome(work, "done")
    for error in results:
        if error is None:
            outcome.partitions += 1
        else:
            log.error("backfill %s: %s", work, error)
            outcome.errors.append(error)
    if outcome.errors:
        outcome.status = "failed"
    return outcome
