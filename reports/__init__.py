"""Reserved: what reform offices and analysts read. The scorecard (static HTML per
province and period, Jinja2 templates, charts), Excel and CSV exports land here; they read
the marts through the warehouse views and never import Airflow."""
