"""Pure transformations: raw payloads -> conformed frames. Never imports Airflow."""
