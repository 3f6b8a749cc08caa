"""E-office report files (báo cáo văn bản điện tử) dropped into the inbox folder
(config/sources.yaml eoffice.inbox, below the data folder; docs/eoffice_report.md): every
10 minutes, the files that have settled (not written to for `settle_seconds`) are taken one
at a time (the embedded warehouse has one writer): each is checked whole, kept in the raw
zone byte for byte with its sha256, loaded (its units' rows of its month replaced) and
archived; or moved to the rejected folder beside an error report in Vietnamese and
English naming sheet, row and column. Nothing of a bad file loads. A loaded file publishes
fact_document_monthly's Asset for its month, so the marts DAG rebuilds its indicators.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, task

from plugins.assets import announce_month, asset_of
from plugins.monthly import pipeline_dag, prepared_warehouse
from plugins.notifiers import fail_fast
from registry.settings import load_registry

DOCUMENTS = load_registry()["documents"]


@task
@fail_fast()
def pending_files() -> list[str]:
    from plugins.hooks import pipeline_settings
    from steps.eoffice import pending_files

    settings = pipeline_settings()
    return [str(p) for p in pending_files(settings, settings.sources.eoffice.settle_seconds)]


@task(outlets=[asset_of(DOCUMENTS)], max_active_tis_per_dagrun=1)
@fail_fast()
def take_file(path: str, run_id: str | None = None, outlet_events=None) -> dict:
    from pathlib import Path

    from plugins.hooks import pipeline_settings
    from steps.eoffice import take_file

    taken = take_file(Path(path), pipeline_settings(), run_id or "manual")
    if taken.status == "loaded" and taken.month and taken.source:
        announce_month(outlet_events, DOCUMENTS, taken.month, source=taken.source)
    return taken.to_dict()


@pipeline_dag("eoffice_inbox", doc=__doc__, tags=["eoffice", "files"], max_active_runs=1,
              schedule=CronTriggerTimetable("*/10 * * * *", timezone="Asia/Ho_Chi_Minh"))
def eoffice_inbox() -> None:
    files = pending_files()
    prepared_warehouse() >> files
    take_file.expand(path=files)


eoffice_inbox()
