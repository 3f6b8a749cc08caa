"""docker-compose.yml without a Docker engine (none runs here): every variable it reads is
listed in docker/.env.example (the required ones with a value to replace), every file it
builds or mounts exists, every named volume is declared, every published port is on the
host's loopback unless told otherwise, and every source the configuration names has its
Connection (a province in config/sources.yaml without one could not be extracted)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from registry.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / "docker" / ".env.example"
# ${NAME}, ${NAME:-default}, ${NAME:?message}; $$ escapes a dollar for the container
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def listed_in_example() -> tuple[set[str], set[str]]:
    """(variables given a value, variables shown commented out as optional)."""
    given, optional = set(), set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if found := re.match(r"^([A-Z0-9_]+)=", line):
            given.add(found.group(1))
        elif found := re.match(r"^#\s*([A-Z0-9_]+)=", line):
            optional.add(found.group(1))
    return given, optional


def test_every_variable_compose_reads_is_in_the_example_env() -> None:
    given, optional = listed_in_example()
    text = COMPOSE.read_text(encoding="utf-8")
    required = {m.group(1) for m in VARIABLE.finditer(text) if m.group(2) in (":?", "?")}
    defaulted = {m.group(1) for m in VARIABLE.finditer(text)} - required
    assert required, "compose names no required variable"
    assert required <= given, sorted(required - given)
    assert defaulted <= given | optional, sorted(defaulted - given - optional)
    # nothing in the example that compose never reads
    assert given | optional <= required | defaulted, sorted((given | optional)
                                                           - required - defaulted)


def test_every_configured_source_has_its_connection(compose: dict) -> None:
    sources = yaml.safe_load((PROJECT_ROOT / "config" / "sources.yaml").read_text("utf-8"))
    env = compose["x-airflow-common"]["environment"]
    wanted = {"AIRFLOW_CONN_NATIONAL_PORTAL", "REFORMSTATS_DOSSIER_HASH_KEY",
              "AIRFLOW_CONN_REFORMSTATS_WAREHOUSE",
              *(f"AIRFLOW_CONN_ONESTOP_{p}" for p in sources["onestop"]["provinces"]),
              *(f"AIRFLOW_CONN_EOFFICE_{p}" for p in sources["eoffice"]["provinces"])}
    assert wanted <= set(env), sorted(wanted - set(env))
    # secrets come from the environment, never written in the file
    for name in wanted - {"AIRFLOW_CONN_REFORMSTATS_WAREHOUSE"}:
        assert VARIABLE.fullmatch(str(env[name])), name


def test_published_ports_are_on_the_loopback_by_default(compose: dict) -> None:
    published = [(name, port) for name, service in compose["services"].items()
                 for port in service.get("ports", [])]
    assert published
    for name, port in published:
        host = VARIABLE.sub(lambda m: m.group(3) if m.group(2) == ":-" else "", str(port))
        assert host.startswith("127.0.0.1:"), (name, port)


def test_files_built_and_mounted_exist_and_named_volumes_are_declared(compose: dict) -> None:
    declared = set(compose.get("volumes") or {})
    services = compose["services"]
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = PROJECT_ROOT / build.get("context", ".")
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith((".", "/")):
                assert (PROJECT_ROOT / source).exists(), (name, volume)
            else:
                assert source in declared, (name, volume)
        for other in service.get("depends_on", {}):
            assert other in services, (name, other)
    # what the image copies is in the repository
    dockerfile = (PROJECT_ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    for line in dockerfile.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                if not source.startswith("--"):
                    assert (PROJECT_ROOT / source).exists(), line
    assert Path(PROJECT_ROOT / "docker" / "postgres-init").is_dir()
