"""Orchestration steps: one plain function per DAG task, composing sources (extract),
expectations (validate), transforms, marts and warehouse (load). They take and return
small JSON-able references, never data frames, so Airflow tasks stay thin."""
