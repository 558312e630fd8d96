"""Shared fixtures: registry isolation, the test ``widget`` entity, PostgreSQL-only marker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from checkstack.automation import registry as automation_registry
from checkstack.entities import registry as entity_registry

_skipped_postgres: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
            _skipped_postgres.append(item.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped_postgres:
        terminalreporter.write_sep(
            "!",
            f"{len(_skipped_postgres)} PostgreSQL-only tests SKIPPED on {connection.vendor}: "
            "run with DATABASE_URL=postgres://... (CI does)",
            yellow=True,
            bold=True,
        )


@pytest.fixture
def isolated_registries() -> Iterator[None]:
    """Register temporary kinds, derivers, subscribers and triggers; restored afterwards."""
    entities_state = entity_registry.snapshot()
    automation_state = automation_registry.snapshot()
    try:
        yield
    finally:
        entity_registry.restore(entities_state)
        automation_registry.restore(automation_state)


@pytest.fixture
def widgets(isolated_registries: None):  # type: ignore[no-untyped-def]
    """The handle of the test ``widget`` kind (incident-shaped: status, severity, tagIds)."""
    from tests.testapp.entity import register_widget_entity

    return register_widget_entity()
