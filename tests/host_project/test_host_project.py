"""Installing the apps into a host project (docs/install.md): migrate and an incident round trip.

pytest-django configures one settings module per process, so the host project runs in
subprocesses (``python -m django migrate``, then ``python -m tests.host_project.roundtrip``)
against a throwaway database of the same vendor as this test run: a temporary SQLite file, or
a separate PostgreSQL database created and dropped here.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[2]
VARIANTS = {
    "with_catalog": ("tests.host_project.settings", "db"),
    # Without catalog any system id is accepted: nobody registered a reference checker.
    "without_catalog": ("tests.host_project.settings_without_catalog", "not-in-any-catalog"),
}


def run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def postgres_params(dbname: str) -> dict[str, Any]:
    settings = connection.settings_dict
    return {
        "dbname": dbname,
        "user": settings["USER"] or None,
        "password": settings["PASSWORD"] or None,
        "host": settings["HOST"] or None,
        "port": settings["PORT"] or None,
    }


def postgres_url(dbname: str) -> str:
    settings = connection.settings_dict
    credentials = quote(settings["USER"] or "", safe="")
    if settings["PASSWORD"]:
        credentials += ":" + quote(settings["PASSWORD"], safe="")
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    options = {k: v for k, v in (settings.get("OPTIONS") or {}).items() if isinstance(v, str)}
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{credentials}@{settings['HOST'] or ''}{port}/{dbname}{query}"


def execute_autocommit(sql: str) -> None:
    """CREATE/DROP DATABASE outside any transaction, on the server this test run uses."""
    import psycopg

    with psycopg.connect(**postgres_params("postgres"), autocommit=True) as admin:
        admin.execute(sql)


@contextlib.contextmanager
def throwaway_database(tmp_dir: Path) -> Iterator[str]:
    """The ``DATABASE_URL`` of an empty database of this test run's vendor; dropped afterwards."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_dir / 'host.sqlite3'}"
        return
    name = f"checkstack_host_{uuid.uuid4().hex[:12]}"
    execute_autocommit(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url(name)
    finally:
        execute_autocommit(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=list(VARIANTS))
def host(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Migrate a fresh host project database and run the round trip once: its JSON summary."""
    settings_module, system_id = VARIANTS[request.param]
    with throwaway_database(tmp_path_factory.mktemp("host_project")) as database_url:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": database_url,
        }
        migrate_output = run(["-m", "django", "migrate", "--noinput"], env)
        summary = json.loads(run(["-m", "tests.host_project.roundtrip", system_id], env))
    yield {"variant": request.param, "migrate": migrate_output, "system_id": system_id, **summary}


def test_migrate_applies_every_app_and_creates_the_sweeper_schedules(host: Any) -> None:
    applied = {
        line.split()[1].split(".")[0] for line in host["migrate"].splitlines() if "Applying" in line
    }
    assert {"entities", "incidents", "django_q", "authtoken"} <= applied
    assert ("catalog" in applied) is (host["variant"] == "with_catalog")
    assert host["catalog_installed"] is (host["variant"] == "with_catalog")
    assert host["vendor"] == connection.vendor
    assert host["schedules"] == [
        "checkstack-automation-sweep-a",
        "checkstack-automation-sweep-b",
        "checkstack-entities-sweep-a",
        "checkstack-entities-sweep-b",
    ]


def test_incident_round_trip_through_the_api_under_the_host_prefix(host: Any) -> None:
    if host["catalog_installed"]:
        assert host["system"]["status"] == 201, host["system"]
    assert host["created"]["status"] == 201, host["created"]
    assert host["created"]["body"]["system_ids"] == [host["system_id"]]
    assert host["resolved"]["status"] == 200, host["resolved"]
    assert host["resolved"]["body"]["status"] == "resolved"
    assert host["history"] == [
        {"seq": 1, "status": "investigating"},
        {"seq": 2, "status": "resolved"},
    ]
    assert host["trigger_events"] == ["incident.created", "incident.resolved"]


def test_changes_carry_the_request_id_of_the_host_middleware(host: Any) -> None:
    assert len(host["request_ids"]) == 2


def test_after_commit_enqueue_uses_the_host_cluster_and_the_sweep_dispatches(host: Any) -> None:
    names = {task["name"] for task in host["enqueued_tasks"]}
    for event_id in host["trigger_event_ids"]:
        assert f"dispatch_trigger_event:{event_id}" in names
    assert {task["key"] for task in host["enqueued_tasks"]} == {"host-project"}
    assert host["pending_trigger_events"] == 0
    assert host["healthz"]["status"] == 200
    assert host["healthz"]["body"]["queue"]["pending"] == 0


def test_public_read_off_in_the_host_settings_makes_anonymous_reads_401(host: Any) -> None:
    assert host["anonymous_list"] == 401


def test_unknown_system_ids_are_rejected_only_when_catalog_is_installed(host: Any) -> None:
    expected = 400 if host["catalog_installed"] else 201
    assert host["unknown_system"] == expected


def test_schema_lists_the_api_under_the_host_prefix(host: Any) -> None:
    assert "/ops/api/incidents/" in host["schema_paths"]
    assert "/ops/api/incidents/{id}/resolve/" in host["schema_paths"]
    has_catalog = "/ops/api/catalog/systems/" in host["schema_paths"]
    assert has_catalog is host["catalog_installed"]
    assert not [path for path in host["schema_paths"] if not path.startswith("/ops/api/")]


def test_create_operator_gives_a_token_that_manages_incidents(host: Any) -> None:
    # incidents must work when catalog is not installed (architecture.md), its commands too.
    assert host["operator"] == {"created": 201}
