# One entry point for people and CI. Every target creates or reuses .venv itself.
PYTHON ?= python3.11
VENV   ?= .venv
UV_VERSION := 0.13.9
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv run test lint lock simulator airflow clean bench browser

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

## browser: Debian's Chromium at /usr/bin/chromium for the browser tests (apt-get, only when missing)
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then \
	  echo "browser: $(CHROMIUM) is installed"; exit 0; \
	fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "browser: $(CHROMIUM) is missing and there is no apt-get here: install Debian's chromium package yourself" >&2; exit 1; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	elif command -v sudo >/dev/null 2>&1; then \
	  if [ -t 0 ]; then SUDO="sudo"; else SUDO="sudo -n"; fi; \
	else \
	  echo "browser: $(CHROMIUM) is missing; installing it needs root or sudo: as root run apt-get install chromium" >&2; exit 1; \
	fi; \
	echo "browser: installing Debian's chromium with apt-get"; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium || { \
	  echo "browser: apt-get could not install chromium (no root or sudo rights, or no package source reachable)" >&2; exit 1; }; \
	[ -x $(CHROMIUM) ] || { echo "browser: chromium installed but $(CHROMIUM) is missing" >&2; exit 1; }

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
