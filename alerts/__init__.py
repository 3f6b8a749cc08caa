"""Reserved: alerts to the reform offices that oversee each unit. Routing as data (office ->
units and channels), Jinja2 message templates in Vietnamese and English, de-duplication
state in the warehouse. Reads dq_result (which carries the unit a result concerns) and the
indicator marts; `plugins/notifiers.py` stays the Airflow-facing adapter."""
