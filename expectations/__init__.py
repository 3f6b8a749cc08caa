"""Great Expectations suites (JSON, one per dataset, in `suites/`) and the code that runs
them on a partition. Each expectation's `meta.severity` is `critical` (failing rows are
quarantined) or `warning` (recorded in dq_result only)."""
