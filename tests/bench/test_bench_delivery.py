"""``manage.py bench_delivery``: a real qcluster on the test database, then nothing left behind.

PostgreSQL only: the cluster runs in another process, which cannot open pytest's in-memory
SQLite test database.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django_q.models import OrmQ, Task

from bench.cluster import database_url
from bench.management.commands import bench_delivery
from catalog.models import System
from catalog.services import create_system
from checkstack.dburl import parse_database_url
from checkstack.entities.models import (
    Change,
    Delivery,
    EntitySequence,
    Transition,
    TriggerEvent,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def bench_rows_left() -> dict[str, int]:
    ours = {"kind": "catalog-system", "entity_id__startswith": bench_delivery.SYSTEM_PREFIX}
    return {
        "systems": System.objects.filter(id__startswith=bench_delivery.SYSTEM_PREFIX).count(),
        "changes": Change.objects.filter(**ours).count(),
        "transitions": Transition.objects.filter(**ours).count(),
        "deliveries": Delivery.objects.filter(**ours).count(),
        "sequences": EntitySequence.objects.filter(**ours).count(),
        "trigger_events": TriggerEvent.objects.filter(
            change__kind="catalog-system",
            change__entity_id__startswith=bench_delivery.SYSTEM_PREFIX,
        ).count(),
        "task_results": Task.objects.filter(func=bench_delivery.RECORD_TASK).count(),
    }


def test_the_cluster_gets_a_database_url_of_the_test_database() -> None:
    parsed = parse_database_url(database_url("bench_delivery"))

    for key in ("NAME", "USER", "HOST", "PORT"):
        assert str(parsed[key]) == str(connection.settings_dict[key] or ""), key
    assert parsed["NAME"].startswith("test_")


def test_bench_delivery_measures_raw_and_entity_delivery_and_leaves_nothing_behind() -> None:
    create_system(id="kept-system", name="Not a bench system")
    queued_before = OrmQ.objects.count()
    out = io.StringIO()

    call_command(
        "bench_delivery",
        latency_n=5,
        throughput_n=20,
        pause_ms=10,
        timeout=120,
        json=True,
        stdout=out,
    )

    results: dict[str, Any] = json.loads(out.getvalue())
    assert results["database"]["vendor"] == "postgresql"
    assert results["cluster"]["workers"] == 2
    for part, unit in (("raw", "tasks_per_s"), ("entity", "deliveries_per_s")):
        latency, throughput = results[part]["latency"], results[part]["throughput"]
        assert latency["n"] == 5
        assert 0 < latency["min_ms"] <= latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
        assert throughput["n"] == 20
        assert throughput[unit] > 0 and throughput["producer_per_s"] > 0
        backlog = results[part]["backlog"]
        assert backlog["n"] == 20 and backlog[unit] > 0 and backlog["seconds"] > 0
    assert results["ratio"]["latency_p50"] > 0 and results["ratio"]["throughput"] > 0
    assert set(results["target"]) == {
        "latency_p50_max",
        "latency_met",
        "throughput_min",
        "throughput_met",
    }
    # warm-up, latency, throughput and backlog changes: each one change, delivery and event
    created = bench_delivery.WARMUP + 5 + 20 + 20
    cleanup = results["cleanup"]
    for rows in ("systems", "changes", "deliveries", "trigger_events", "sequences"):
        assert cleanup[rows] == created, rows

    assert bench_rows_left() == dict.fromkeys(bench_rows_left(), 0)
    assert bench_delivery.BENCH_TABLE not in connection.introspection.table_names()
    assert OrmQ.objects.count() <= queued_before  # the kept system's tasks may have run
    # another system's rows are not the bench's
    assert Delivery.objects.filter(entity_id="kept-system").count() == 1
    assert Change.objects.filter(entity_id="kept-system").count() == 1
    assert System.objects.filter(id="kept-system").exists()
