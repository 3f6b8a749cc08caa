"""Domain types every stage shares: calendar periods (kỳ báo cáo) and administrative units
(đơn vị hành chính) with their source-ID crosswalk. Pure Python, no I/O beyond reading the
unit reference files, no Airflow."""
