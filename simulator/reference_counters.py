"""The simulator's own monthly dossier counters: a plain, row-by-row reference
implementation written from shared/domain/INDICATORS.md ("Monthly dossier counters").

It shares no code with the pipeline (transforms/dossiers.py counts with one vectorised SQL
pass); the vendor aggregates the simulator serves and the counters tests expect both come
from here, so a test comparing the two compares two independent readings of the rules.

For unit U and month M, in Asia/Ho_Chi_Minh local time:
- a dossier matters to M if it was received before M ended and was not closed (resolved,
  returned or withdrawn) before M began;
- carried over: received before M; received_*: received in M, by intake channel;
- closed in M: resolved (early / on time / late against the promised date moved later by
  the days the applicant spent supplying documents; no promised date is on time; more
  than one request for additional documents is late), returned, or withdrawn;
- open at the end of M: paused (paused before M ended), else in progress on time (moved
  promised date on or after M's last day, or none) or overdue;
- returned via public postal service: resolved in M with the result sent by post (the
  mailing itself may fall in the next month); digitised inputs, fee-bearing, paid online
  and synced count dossiers received in M; digitised results and electronic results count
  dossiers resolved in M.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
IN_PERSON, ONLINE, POSTAL = 1, 2, 3
INTAKE = {IN_PERSON: "received_in_person", ONLINE: "received_online",
          POSTAL: "received_postal"}

# Every counter the simulator's aggregates are built from, in the order INDICATORS.md
# lists them.
COUNTERS = (
    "carried_over", "received_total", "received_in_person", "received_online",
    "received_postal", "resolved_total", "resolved_early", "resolved_on_time",
    "resolved_late", "in_progress_on_time", "in_progress_overdue", "paused", "returned",
    "withdrawn", "results_returned_postal", "received_inputs_digitised",
    "resolved_result_digitised", "resolved_e_result", "received_fee_bearing",
    "received_paid_online", "received_synced",
)


def _month_window(year: int, month: int) -> tuple[dt.datetime, dt.datetime, dt.date]:
    """(first instant, first instant of the next month, last day) in Hà Nội time."""
    start = dt.datetime(year, month, 1, tzinfo=HANOI)
    following = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=HANOI)
    return start, following, (following - dt.timedelta(days=1)).date()


def _resolution(dossier: Mapping[str, Any]) -> str:
    """early | on_time | late for a resolved dossier, comparing local dates."""
    if (dossier["additional_requests"] or 0) > 1:
        return "late"
    promised = dossier["promised_date"]
    if promised is None:
        return "on_time"
    due = promised + dt.timedelta(days=dossier["supplement_days"] or 0)
    ended = dossier["finished_at"].astimezone(HANOI).date()
    if ended < due:
        return "early"
    return "on_time" if ended == due else "late"


def count_month(dossiers: Iterable[Mapping[str, Any]], year: int, month: int
                ) -> dict[tuple[str, str], Counter[str]]:
    """{(unit code, procedure code): Counter of COUNTERS} for one month.

    Each dossier is a mapping with the world's fields: agency_code, procedure_code,
    intake_channel, received_at, promised_date, finished_at, returned_at, withdrawn_at,
    paused_at, result_channel, additional_requests, supplement_days and the flags.
    Timestamps are timezone-aware; promised_date is a local date.
    """
    start, end, last_day = _month_window(year, month)
    counts: dict[tuple[str, str], Counter[str]] = {}
    for d in dossiers:
        if d["received_at"] >= end:
            continue
        closings = [(d[field], field) for field in ("finished_at", "returned_at",
                                                    "withdrawn_at") if d[field] is not None]
        closed_at, how = min(closings) if closings else (None, None)
        if closed_at is not None and closed_at < start:
            continue
        c = counts.setdefault((d["agency_code"], d["procedure_code"]), Counter())
        if d["received_at"] >= start:
            c["received_total"] += 1
            c[INTAKE[d["intake_channel"]]] += 1
            c["received_inputs_digitised"] += bool(d["inputs_digitised"])
            c["received_fee_bearing"] += bool(d["fee_bearing"])
            c["received_paid_online"] += bool(d["fee_bearing"] and d["paid_online"])
            c["received_synced"] += bool(d["synced_to_portal"])
        else:
            c["carried_over"] += 1
        if closed_at is not None and closed_at < end:
            if how == "finished_at":
                c["resolved_total"] += 1
                c["resolved_" + _resolution(d)] += 1
                c["results_returned_postal"] += d["result_channel"] == POSTAL
                c["resolved_result_digitised"] += bool(d["result_digitised"])
                c["resolved_e_result"] += bool(d["e_result"])
            else:
                c["returned" if how == "returned_at" else "withdrawn"] += 1
        elif d["paused_at"] is not None and d["paused_at"] < end:
            c["paused"] += 1
        else:
            promised = d["promised_date"]
            due = (None if promised is None
                   else promised + dt.timedelta(days=d["supplement_days"] or 0))
            c["in_progress_on_time" if due is None or due >= last_day
              else "in_progress_overdue"] += 1
    return counts


def per_unit(counts: Mapping[tuple[str, str], Counter[str]]) -> dict[str, Counter[str]]:
    """The counters summed over procedures, per unit."""
    totals: dict[str, Counter[str]] = {}
    for (unit, _), c in counts.items():
        totals.setdefault(unit, Counter()).update(c)
    return totals
