"""Source clients: one per source system, speaking its real HTTP shape. No Airflow here."""
