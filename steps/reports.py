"""Report step: after scoring, the scorecard of every province with figures for each period
a month ends (config/reports.yaml's period types), in each configured language, written
under `REFORMSTATS_DATA_DIR/<out_dir>/<province>/<period>/` (reports/publish.py), and the
data-quality page of the recent periods, `<out_dir>/quality.<lang>.html` (reports/quality.py).

Reads the warehouse only (one read-only connection, which waits for a writer's lock like
any other), and rewrites a period's files whole, so a rerun or a backfill replaces them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from domain.periods import Month, Period, periods_ending
from registry.settings import Settings

log = logging.getLogger(__name__)


def provinces_with_figures(conn: sa.Connection, period: Period) -> list[str]:
    """Provinces with an indicator in one of the period's months or a score of one of
    their departments or communes for it (a province the portal only ranks as a whole, in
    the 766, gets no scorecard: there would be nothing but that rank on it)."""
    months = [m.period_id for m in period.months]
    found = {r[0] for r in conn.execute(sa.text(
        "SELECT DISTINCT province_code FROM fact_indicator_monthly "
        "WHERE period_id BETWEEN :a AND :b AND province_code IS NOT NULL"),
        {"a": months[0], "b": months[-1]})}
    found |= {r[0] for r in conn.execute(sa.text(
        "SELECT DISTINCT province_code FROM v_scheme_ranking WHERE period_id = :p "
        "AND province_code IS NOT NULL AND unit_level <> 'province'"),
        {"p": period.period_id})}
    return sorted(found)


def write_reports(month: Month, settings: Settings, out_dir: Path | None = None
                  ) -> list[dict[str, Any]]:
    """Write the scorecards of the periods ending with `month`; returns one row per file
    set written (province, period, language, paths)."""
    from reports.publish import publish
    from reports.quality import build_quality, write_quality
    from reports.settings import ReportSettings
    from steps.marts import catalogue
    from warehouse.engine import make_engine

    known = {i.code for i in catalogue(settings).indicators}
    rs = ReportSettings.from_file(settings.config_dir / "reports.yaml", known)
    target = out_dir or settings.data_dir / rs.out_dir
    written = []
    engine = make_engine(settings.warehouse_url, read_only=True)
    try:
        with engine.connect() as conn:
            for period in periods_ending(month, rs.period_types):
                for province in provinces_with_figures(conn, period):
                    for w in publish(conn, province, period, rs, target):
                        written.append({"province": w.province_code, "period": w.period,
                                        "lang": w.lang, "html": str(w.html),
                                        "xlsx": str(w.xlsx), "csv_files": len(w.csv),
                                        "missing": list(w.missing)})
                        log.info("scorecard %s %s (%s): %s", w.province_code, w.period,
                                 w.lang, w.html)
            for lang in rs.languages:  # the data-quality page of the recent periods
                page = write_quality(build_quality(conn, lang=lang), target)
                written.append({"page": "quality", "lang": lang, "html": str(page)})
    finally:
        engine.dispose()
    return written
