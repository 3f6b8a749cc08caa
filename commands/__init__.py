"""The `reformstats` command line: the demo (the main job), the simulator, local Airflow,
warehouse migrations. Apart from the pipeline steps, which never import it."""
