"""The benchmarks ship with no app: their commands are the ``bench`` app's, which only the bench
and test settings install, and the distribution leaves the ``bench`` package out."""

from __future__ import annotations

import tomllib
from pathlib import Path

import setuptools
from django.core.management import get_commands

import bench.settings
import checkstack.settings

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("checkstack", "catalog", "incidents")
BENCH_COMMANDS = {
    "bench_api",
    "bench_delivery",
    "bench_entities",
    "bench_recovery",
    "bench_scale",
    "bench_webhooks",
}


def test_every_bench_command_belongs_to_the_bench_app() -> None:
    commands = {name: app for name, app in get_commands().items() if name.startswith("bench")}

    assert commands == dict.fromkeys(BENCH_COMMANDS, "bench")


def test_no_shipped_app_has_a_bench_command() -> None:
    found = [
        str(path.relative_to(ROOT))
        for package in SHIPPED
        for path in (ROOT / package).glob("**/management/commands/bench*.py")
    ]

    assert found == []
    assert not (ROOT / "checkstack" / "entities" / "benchmarking.py").exists()


def test_the_default_project_does_not_install_the_bench_app() -> None:
    assert "bench" not in checkstack.settings.INSTALLED_APPS
    assert [*checkstack.settings.INSTALLED_APPS, "bench"] == bench.settings.INSTALLED_APPS


def test_the_distribution_leaves_the_bench_package_out() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]

    # pyproject's packages.find looks for namespace packages too
    packages = setuptools.find_namespace_packages(where=str(ROOT), include=include)

    assert {"checkstack.entities", "checkstack.automation", "catalog", "incidents"} <= set(packages)
    assert [p for p in packages if p.split(".")[0] == "bench"] == []
