"""The layer order of docs/architecture.md holds: no module imports one from a layer above it.

The contracts live in pyproject.toml (``[tool.importlinter]``) and are checked with
import-linter; function-local imports count, ``if TYPE_CHECKING:`` imports do not.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
import tomllib
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}


def layer_names(contract: dict[str, Any]) -> list[set[str]]:
    return [{name.strip() for name in line.split("|")} for line in contract["layers"]]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(
        *CONFIG["root_packages"], exclude_type_checking_imports=True, cache_dir=None
    )


def test_no_module_imports_from_a_layer_above_its_own(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    exit_code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    report = capsys.readouterr().out
    assert exit_code == 0, report


@pytest.mark.parametrize("contract_id", [c for c in CONTRACTS if CONTRACTS[c].get("containers")])
def test_every_module_of_a_layered_package_has_its_layer(contract_id: str) -> None:
    """A new module must be placed in the order, or nothing constrains what it imports."""
    contract = CONTRACTS[contract_id]
    placed = set().union(*layer_names(contract))
    for container in contract["containers"]:
        package = importlib.import_module(container)
        children = {m.name for m in pkgutil.iter_modules(package.__path__)}
        assert children - placed == set(), f"{container}: modules without a layer"
        assert placed - children == set(), f"{container}: layers naming no module"


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("checkstack.entities.registry", "checkstack.entities.handle"),
        ("checkstack.entities.handle", "checkstack.automation.registry"),
        ("checkstack.automation.actions", "checkstack.automation.webhooks.action"),
        ("checkstack.automation.runs.records", "checkstack.automation.tasks"),
        ("checkstack.automation.webhooks.policy", "checkstack.automation.webhooks.attempt"),
        ("catalog.services", "incidents.services"),
    ],
)
def test_an_import_from_a_higher_layer_is_reported(
    graph: grimp.ImportGraph, importer: str, imported: str
) -> None:
    """The contracts are not vacuous: each of these (the circles of the old layout among them)
    breaks one."""
    assert broken_contracts(graph) == []
    planted = copy.deepcopy(graph)
    planted.add_import(importer=importer, imported=imported)
    assert broken_contracts(planted) != [], f"{importer} -> {imported} broke no contract"


def broken_contracts(graph: grimp.ImportGraph) -> list[str]:
    broken = []
    for contract in CONTRACTS.values():
        checked = copy.deepcopy(graph)
        for ignored in contract.get("ignore_imports", ()):
            importer, imported = (part.strip() for part in ignored.split("->"))
            checked.remove_import(importer=importer, imported=imported)
        layers = [grimp.Layer(*names, independent=True) for names in layer_names(contract)]
        containers = set(contract.get("containers", ())) or None
        if checked.find_illegal_dependencies_for_layers(layers=layers, containers=containers):
            broken.append(contract["id"])
    return broken
