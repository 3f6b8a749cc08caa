"""Pipeline steps as plain Python functions (extract, validate, load) that the DAGs call.
They take and return small JSON-able references, never data frames."""
