"""Airflow-facing adapters: hooks that build source clients from Connections, and the one
shared failure notifier. Thin wrappers over the plain-Python packages."""
