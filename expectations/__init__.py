"""Great Expectations suites (JSON, one per dataset, in `suites/`) and the code that runs
them on a partition. Each expectation's `meta.severity` is one of (expectations.outcomes):
`critical` (the partition is not published: the last good version stays, every new row
waits in quarantine), `error` (the failing rows wait in quarantine, the rest is published)
or `warning` (loaded, and recorded in dq_result)."""
