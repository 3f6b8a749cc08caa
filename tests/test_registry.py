"""The dataset registry: checked on load with errors naming file and dataset, consistent
with the warehouse schema, the suites and rules on disk, and the data dictionary."""

from __future__ import annotations

from pathlib import Path

import pytest

from expectations.checks import CHECKS
from registry.datasets import Registry, RegistryError
from registry.docs import datasets_section
from registry.settings import PROJECT_ROOT, load_registry
from warehouse.schema import metadata

REGISTRY = load_registry()
EXPECTATIONS = PROJECT_ROOT / "expectations"


def test_every_loaded_dataset_names_a_table_whose_key_and_partition_it_declares() -> None:
    for dataset in REGISTRY:
        if not dataset.table:
            assert dataset.kind == "raw"
            continue
        table = metadata.tables[dataset.table]
        assert {c.name for c in table.primary_key} == set(dataset.natural_key), dataset.name
        assert set(dataset.partition) <= set(table.c.keys()), dataset.name
        assert dataset.unit_column in table.c, dataset.name
        assert dataset.stocks <= set(table.c.keys()), dataset.name


def test_every_validation_the_registry_names_exists() -> None:
    for dataset in REGISTRY:
        v = dataset.validation
        if v.suite:
            assert (EXPECTATIONS / "suites" / f"{v.suite}.json").exists(), dataset.name
        if v.rules:
            assert (EXPECTATIONS / "rules" / f"{v.rules}.yaml").exists(), dataset.name
        assert set(v.checks) <= set(CHECKS), dataset.name
    assert all(d.validation != type(d.validation)() for d in REGISTRY if d.table)


def test_mart_inputs_are_loaded_facts() -> None:
    for mart in REGISTRY.of_source("marts"):
        assert mart.inputs and all(REGISTRY[name].kind == "fact" and REGISTRY[name].table
                                   for name in mart.inputs)


def test_the_data_dictionary_lists_the_registry_as_it_is() -> None:
    page = (PROJECT_ROOT / "docs" / "data_dictionary.md").read_text(encoding="utf-8")
    assert datasets_section(REGISTRY) in page, "run `reformstats docs` and commit the page"


@pytest.mark.parametrize(("entry", "message"), [
    ("{source: somewhere, kind: fact, description: x, period_types: [month], enabled: true}",
     "source must be one of"),
    ("{source: onestop, kind: fact, description: x, period_types: [month], enabled: true}",
     "a fact needs table, partition and natural_key"),
    ("{source: onestop, kind: raw, description: x, period_types: [fortnight], enabled: true}",
     "period_types must be some of"),
    ("{source: onestop, kind: raw, description: x, period_types: [month], enabled: true, "
     "tabel: x}", "unknown keys ['tabel']"),
    ("{source: onestop, kind: raw, description: x, period_types: [month], enabled: yes, "
     "freshness: {warn_after_days: 9, error_after_days: 3}}", "warn_after_days <="),
    ("{source: onestop, kind: raw, description: x, period_types: [month], enabled: true, "
     "validation: {max_held_share: 5}}", "max_held_share: a fraction"),
    ("{source: onestop, kind: raw, description: x, period_types: [month], enabled: true, "
     "validation: {history: {measures: [n], factor: 0.5}}}", "factor: more than 1"),
    ("{source: onestop, kind: raw, description: x, period_types: [month], enabled: true, "
     "validation: {history: {measures: [n], treshold: 2}}}", "history: a mapping of"),
])
def test_a_wrong_entry_is_rejected_naming_file_and_dataset(tmp_path: Path, entry: str,
                                                           message: str) -> None:
    path = tmp_path / "datasets.yaml"
    path.write_text(f"datasets:\n  broken: {entry}\n", encoding="utf-8")
    with pytest.raises(RegistryError, match=r"datasets\.yaml: broken") as error:
        Registry.from_file(path)
    assert message in str(error.value)
