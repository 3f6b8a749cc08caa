"""Shared fixtures: a real simulator on 127.0.0.1, temporary settings, real databases, a
real browser.

PostgreSQL tests use the server at 127.0.0.1:5432 (database `test`, user `postgres`). When
it is unreachable they are skipped with a message — except when CI=true, where they fail.
Browser tests use Debian's Chromium at /usr/bin/chromium (`make browser`) the same way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from domain.periods import Month
from registry.settings import PROJECT_ROOT, Settings
from simulator import FaultPlan, PortalSimulator
from sources.national_portal import NationalPortalConfig
from tests.browser import Chromium, OpenedPage, chromium_missing

SCORED_THROUGH = Month(2026, 3)

# Airflow (imported by plugins.*) must never touch ~/airflow or load examples from tests.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="reformstats-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

PG_BASE_URL = os.environ.get("REFORMSTATS_TEST_PG_URL",
                             "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def simulator() -> Iterator[callable]:
    """Factory: simulator(faults={...}, **plan options) -> a started PortalSimulator. Its
    "now" (the last month it has scored) is SCORED_THROUGH unless given, so year-to-date
    answers do not depend on the day the suite runs."""
    started: list[PortalSimulator] = []

    def start(faults: dict[str, int] | None = None, seed: int = 766,
              dossiers_per_unit: float = 40.0, published_through: Month = SCORED_THROUGH,
              **options: float) -> PortalSimulator:
        sim = PortalSimulator(seed=seed, faults=FaultPlan(dict(faults or {}), **options),
                              dossiers_per_unit=dossiers_per_unit,
                              published_through=published_through)
        started.append(sim.start())
        return sim

    yield start
    for sim in started:
        sim.stop()


def fast_config(url: str, **overrides: object) -> NationalPortalConfig:
    """Client settings for tests: quick backoff and throttle, short timeouts."""
    options = {"rate_per_second": 200.0, "read_timeout": 5.0, "initial_wait": 0.05,
               "max_wait": 0.2, "max_attempts": 4, **overrides}
    return NationalPortalConfig(base_url=url, **options)


@pytest.fixture(scope="session")
def migrated_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB warehouse file migrated once by `reformstats db upgrade`'s code; tests get
    copies of it (the same bytes a fresh upgrade writes, in milliseconds)."""
    from warehouse.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "warehouse.duckdb"
    upgrade(f"duckdb:///{path}")
    return path


@pytest.fixture
def settings(tmp_path: Path, migrated_duckdb: Path) -> Settings:
    """Settings in a temporary folder, with a migrated DuckDB warehouse of its own."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(migrated_duckdb, data / "warehouse.duckdb")
    return Settings(config_dir=PROJECT_ROOT / "config", data_dir=data,
                    warehouse_url=f"duckdb:///{data / 'warehouse.duckdb'}")


@pytest.fixture
def datasets_without_held_share() -> str:
    """config/datasets.yaml without its `max_held_share` limits: for tests of row-level
    (error) quarantine on small hand-made partitions where most rows are broken on purpose,
    which those limits would reject as a whole."""
    text = (PROJECT_ROOT / "config" / "datasets.yaml").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines(keepends=True)
            if not line.strip().startswith("max_held_share:")]
    assert len(kept) < len(text.splitlines())
    return "".join(kept)


@pytest.fixture
def own_config(settings: Settings, tmp_path: Path) -> Callable[..., Settings]:
    """Factory: settings whose config folder is a copy of config/, with `national_portal`
    (a dict merged into that section of sources.yaml) and `files` (path in the folder ->
    text) changed, as a deployment would change them."""
    import yaml

    def make(national_portal: dict | None = None,
             files: dict[str, str] | None = None) -> Settings:
        folder = tmp_path / "config"
        if not folder.exists():
            shutil.copytree(PROJECT_ROOT / "config", folder)
        if national_portal:
            path = folder / "sources.yaml"
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            data["national_portal"].update(national_portal)
            path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        for name, text in (files or {}).items():
            (folder / name).write_text(text, encoding="utf-8")
        return Settings(config_dir=folder, data_dir=settings.data_dir,
                        warehouse_url=settings.warehouse_url)

    return make


def pg_schema_url(base: str = PG_BASE_URL) -> Iterator[str]:
    """A URL whose search_path is a fresh, empty schema, dropped afterwards; skipped (or,
    with CI=true, failed) when PostgreSQL is not reachable."""
    engine = sa.create_engine(base)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        message = f"PostgreSQL not reachable at {base}: {exc.orig}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


@pytest.fixture
def pg_empty_url() -> Iterator[str]:
    """A PostgreSQL URL on a fresh, empty schema (nothing migrated)."""
    yield from pg_schema_url()


@pytest.fixture
def pg_url(pg_empty_url: str) -> str:
    """A PostgreSQL URL on a fresh schema, migrated to the latest revision."""
    from warehouse.migrate import upgrade

    upgrade(pg_empty_url)
    return pg_empty_url


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    """One headless Chromium (Debian's /usr/bin/chromium, through playwright) for a
    module's tests; skipped with a message when it is absent, failed when CI=true."""
    missing = chromium_missing()
    if missing:
        if IN_CI:
            pytest.fail(f"{missing} (CI=true: browser tests must run)")
        pytest.skip(missing)
    browser = Chromium()
    yield browser
    browser.close()


@pytest.fixture
def browser_page(chromium: Chromium) -> Iterator[Callable[..., OpenedPage]]:
    """Factory: browser_page(path, width=1280, height=900) -> OpenedPage: the file opened
    in a fresh context and loaded, with its console errors, page errors and (blocked)
    requests recorded, and `screenshot(name)` into tests/artifacts/. Its pages close
    after the test."""
    yield chromium.open
    chromium.close_pages()
