"""The layout's rules, checked on the code itself (imports read with ast, nothing run):
transforms and marts never import Airflow, the simulator never imports the pipeline's
transforms (its counters are its own) and has no import cycle, DAG files import only
light modules at their top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imports_of(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", ["transforms", "marts", "domain", "registry", "sources",
                                     "expectations", "simulator"])
def test_pure_packages_never_import_airflow(package: str) -> None:
    offenders = {p.name: sorted(i for i in imports_of(p) if i.split(".")[0] == "airflow")
                 for p in modules(package)}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_marts_read_facts_they_are_given_not_the_warehouse() -> None:
    for path in modules("marts"):
        assert not {i for i in imports_of(path)
                    if i.split(".")[0] in {"warehouse", "steps", "sources", "sqlalchemy"}}


def test_the_simulator_counts_with_its_own_code_and_has_no_import_cycle() -> None:
    for path in modules("simulator"):
        imported = imports_of(path)
        assert not {i for i in imported if i.split(".")[0] in {
            "transforms", "marts", "steps", "warehouse", "expectations", "sources"}}, path
        if path.name not in {"__init__.py", "server.py"}:
            assert "simulator.server" not in imported, path  # services know no server


def test_dag_files_import_only_light_modules_at_top_level() -> None:
    allowed = {"__future__", "datetime", "airflow.sdk", "plugins.assets", "plugins.monthly",
               "plugins.notifiers", "registry.settings"}  # notifiers: re and airflow.sdk
    for path in sorted((ROOT / "dags").glob("*.py")):
        assert imports_of(path, top_level_only=True) <= allowed, path

