"""Shared fixtures: registry isolation, the test ``widget`` entity, PostgreSQL-only marker, the
django-q2 broker of the real-qcluster tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.db import connection

from checkstack.automation import registry as automation_registry
from checkstack.entities import registry as entity_registry

if TYPE_CHECKING:
    from tests.qcluster import Broker

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


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The Redis of the redis-broker variants: ``CHECKSTACK_TEST_REDIS_URL`` (.ci/run sets it),
    else a private redis-server for this session; skipped when neither exists."""
    from tests.qcluster import TEST_REDIS_URL_ENV, private_redis_server

    if os.environ.get(TEST_REDIS_URL_ENV):
        yield os.environ[TEST_REDIS_URL_ENV]
        return
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(private_redis_server())
        except FileNotFoundError:
            pytest.skip(
                f"redis-server not installed (apt-get install redis-server) and "
                f"{TEST_REDIS_URL_ENV} unset: the Redis broker variant needs one"
            )
        yield url


@pytest.fixture(params=["orm", "redis"])
def broker(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    """Each test that asks for it runs on django-q2's ORM broker and on Redis: the test process
    (enqueueing after COMMIT, like a web process) and the qclusters it starts (``broker``'s
    ``environment()``) use the same one. Redis is emptied before and after the test."""
    from django_q.conf import Conf

    from checkstack.entities.broker import BROKER_CLASS
    from tests.qcluster import ORM_BROKER, Broker

    if request.param == "orm":
        # django-q2's Conf is frozen at import: patch it, not the settings. The ORM broker of
        # the default settings: woken by NOTIFY on PostgreSQL.
        monkeypatch.setattr(Conf, "ORM", "default")
        monkeypatch.setattr(Conf, "REDIS", {})
        monkeypatch.setattr(Conf, "BROKER_CLASS", BROKER_CLASS)
        yield ORM_BROKER
        return
    import redis

    url = request.getfixturevalue("redis_url")
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", url)
    monkeypatch.setattr(Conf, "BROKER_CLASS", None)
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield Broker("redis", url)
    finally:
        client.flushdb()
        client.close()
