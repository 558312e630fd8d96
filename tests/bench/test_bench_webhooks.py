"""``manage.py bench_webhooks``: API → qcluster → webhook latency, then nothing left behind.

The measuring test runs a real qcluster, so it needs PostgreSQL (the cluster is another
process, which cannot open pytest's in-memory SQLite test database). The cleanup-after-error
test replaces the cluster with one that is dead on arrival and runs on both databases.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django_q.models import OrmQ, Task

from bench.management.commands import bench_webhooks
from bench.report import render_text
from catalog.models import System
from checkstack.automation.models import (
    Automation,
    AutomationRun,
    RunStep,
    WebhookDelivery,
)
from checkstack.automation.tasks import RUN_TASK, WEBHOOK_TASK
from checkstack.entities.models import (
    Change,
    Delivery,
    EntitySequence,
    Transition,
    TriggerEvent,
)
from checkstack.entities.outbox import DELIVER_CHANGE_TASK, DELIVER_TASK, DISPATCH_TASK
from incidents.models import Incident, IncidentSystem
from tests.api.helpers import make_incident, make_systems

# The command turns enqueueing on for its own run; the rows made beforehand queue nothing.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_enqueue")]

COUNTED = {
    "incidents": Incident.objects,
    "incident_systems": IncidentSystem.objects,
    "changes": Change.objects,
    "transitions": Transition.objects,
    "trigger_events": TriggerEvent.objects,
    "deliveries": Delivery.objects,
    "sequences": EntitySequence.objects,
    "runs": AutomationRun.objects,
    "run_steps": RunStep.objects,
    "webhook_deliveries": WebhookDelivery.objects,
    "automations": Automation.objects,
    "systems": System.objects,
    "queued_tasks": OrmQ.objects,
}


def row_counts() -> dict[str, int]:
    counts = {name: manager.count() for name, manager in COUNTED.items()}
    counts["users"] = get_user_model().objects.count()
    counts["task_results"] = Task.objects.filter(
        func__in=[DISPATCH_TASK, DELIVER_TASK, DELIVER_CHANGE_TASK, RUN_TASK, WEBHOOK_TASK]
    ).count()
    return counts


def kept_rows() -> dict[str, Any]:
    """Rows that are not the benchmark's: an incident on another system, made beforehand."""
    make_systems("kept-system")
    incident = make_incident(["kept-system"], title="Not a bench incident")
    return {"incident": incident.pk, "system": "kept-system"}


def assert_kept(kept: dict[str, Any]) -> None:
    assert Incident.objects.filter(pk=kept["incident"]).exists()
    assert System.objects.filter(pk=kept["system"]).exists()
    assert Change.objects.filter(kind="incident", entity_id=kept["incident"]).count() == 1


@pytest.mark.postgres
def test_bench_webhooks_measures_api_to_webhook_latency_and_leaves_nothing_behind() -> None:
    kept = kept_rows()
    before = row_counts()
    out = io.StringIO()

    variants = "inline,orm-notify-2hop,orm-notify"
    call_command("bench_webhooks", n=5, timeout=120, variants=variants, json=True, stdout=out)

    results: dict[str, Any] = json.loads(out.getvalue())
    assert results["database"]["vendor"] == "postgresql"
    assert results["run"]["n"] == 5
    assert list(results["variants"]) == variants.split(",")
    for name, result in results["variants"].items():
        latency = result["latency"]
        assert latency["n"] == 5
        assert 0 < latency["min_ms"] <= latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
        assert set(result["ratio"]) == {"p50", "p99"}
        expected = set(bench_webhooks.HOP_LABELS) - set(bench_webhooks.SPLIT_HOPS)
        if name == "orm-notify-2hop":  # the run has a task of its own: its split is known
            expected |= set(bench_webhooks.SPLIT_HOPS)
        assert set(result["breakdown"]) == expected, name
        # the API call is part of the measured latency, the rest comes after it returned
        api = result["breakdown"]["api_call"]
        after = result["breakdown"]["api_return_to_arrival"]
        assert api["mean_ms"] + after["mean_ms"] == pytest.approx(latency["mean_ms"], abs=0.05)
    assert results["variants"]["inline"]["ratio"] == {"p50": 1.0, "p99": 1.0}
    assert results["variants"]["orm-notify"]["cluster"]["workers"] == 2
    assert results["receiver"] == {"duplicates": 0, "unmatched": 0}
    made = 3 * (bench_webhooks.WARMUP + 5)
    cleanup = results["cleanup"]
    for rows in ("incidents", "runs"):
        assert cleanup[rows] == made, rows
    assert cleanup["changes"] == made + 1  # and the system's
    assert cleanup["trigger_events"] == made + 1
    assert (cleanup["automations"], cleanup["systems"], cleanup["users"]) == (1, 1, 1)

    assert row_counts() == before
    assert_kept(kept)
    assert "API call -> webhook POST received" in render_text(bench_webhooks.report_of(results))


class DeadCluster:
    """A qcluster that exited at once: the first wait for a webhook fails."""

    def __init__(self, **kwargs: Any) -> None:
        self.stopped = False

    def check_alive(self) -> None:
        raise CommandError("qcluster exited with 1")

    def output(self, chars: int = 3000) -> str:
        return ""

    def stop(self) -> None:
        self.stopped = True


def test_bench_webhooks_deletes_what_it_created_when_the_run_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept = kept_rows()
    before = row_counts()
    clusters: list[DeadCluster] = []
    cleanups: list[dict[str, int]] = []
    purge = bench_webhooks.purge_bench_rows

    def new_cluster(**kwargs: Any) -> DeadCluster:
        clusters.append(DeadCluster(**kwargs))
        return clusters[-1]

    def recorded_purge(*args: Any, **kwargs: Any) -> dict[str, int]:
        cleanups.append(purge(*args, **kwargs))
        return cleanups[-1]

    monkeypatch.setattr(bench_webhooks, "Cluster", new_cluster)
    monkeypatch.setattr(bench_webhooks, "purge_bench_rows", recorded_purge)

    with pytest.raises(CommandError, match="qcluster exited"):
        call_command("bench_webhooks", n=5, timeout=5, variants="orm-poll", stdout=io.StringIO())

    # the first warm-up incident went through the API before the wait failed; then all of it
    # was deleted (the first purge is the one for leftovers of earlier runs)
    cleanup = cleanups[-1]
    assert len(cleanups) == 2
    assert (cleanup["incidents"], cleanup["changes"], cleanup["trigger_events"]) == (1, 2, 2)
    assert (cleanup["automations"], cleanup["systems"], cleanup["users"]) == (1, 1, 1)
    assert row_counts() == before
    assert clusters and clusters[0].stopped
    assert_kept(kept)
