"""Configuration as data, read in one place: the dataset registry (config/datasets.yaml),
the source settings (config/sources.yaml) and where files and the warehouse live.
Light on purpose: DAG files read the registry at parse time."""
