# One entry point for people and CI. Every target creates or reuses .venv itself.
PYTHON ?= python3.11
VENV   ?= .venv
UV_VERSION := 0.13.9
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv run test lint lock simulator airflow clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when the lock file or the project metadata changed.
$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## run: the main job — simulator + real DAGs with dag.test() over the demo window into DuckDB
run: $(STAMP)
	$(BIN)/reformstats demo

## test: ruff + the whole test suite (PostgreSQL tests skip with a message when it is absent, unless CI=true)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## simulator: serve the portal simulator on 127.0.0.1:8765 until Ctrl-C
simulator: $(STAMP)
	$(BIN)/reformstats simulator --port 8765

## airflow: airflow standalone with this project's DAGs (UI on http://127.0.0.1:8080)
airflow: $(STAMP)
	$(BIN)/reformstats airflow-standalone

bench: $(STAMP)
	$(BIN)/python bench/onestop_pipeline.py --dossiers 1000000

## lock: re-resolve requirements.lock from pyproject.toml (needs the package registry)
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements.lock

clean:
	rm -rf $(VENV) data/demo .pytest_cache
