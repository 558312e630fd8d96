"""The engine under real concurrency on PostgreSQL: runs executed by threads at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from checkstack.automation import runs, services
from checkstack.automation.models import AutomationRun, RunStatus
from checkstack.automation.registry import ActionContext, ActionResult, register_action
from checkstack.entities.delivery import sweep_inline
from incidents import services as incidents
from incidents.models import Incident
from tests.automation.engine import RecordConfig
from tests.incidents.helpers import make_systems
from tests.threads import JOIN_TIMEOUT, Worker, join_all

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _dedupe_then_resolve(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "trigger": {"event": "catalog.updated", "filter": ""},
        "steps": [
            {
                "id": "open",
                "action": "incident.create",
                "config": {
                    "title": "{{ trigger.payload.systemId }} degraded",
                    "system_ids": ["{{ trigger.payload.systemId }}"],
                    "dedupe_open_for_system": True,
                },
            },
            {"id": "sync", "action": "test.barrier", "config": {"label": "both opened"}},
            {"id": "close", "action": "incident.resolve", "config": {"message": "recovered"}},
        ],
    }


def test_two_automations_deduping_concurrently_open_one_incident_and_resolve_it(
    isolated_registries: None,
) -> None:
    barrier = threading.Barrier(2)

    def wait_for_the_other(ctx: ActionContext, config: RecordConfig) -> ActionResult:
        barrier.wait(timeout=JOIN_TIMEOUT)
        return ActionResult(success=True)

    register_action("test.barrier", "Barrier", "Waits.", "Tests", RecordConfig, wait_for_the_other)
    make_systems("db")
    services.create_automation(**_dedupe_then_resolve("first"))
    services.create_automation(**_dedupe_then_resolve("second"))
    from catalog import services as catalog

    catalog.update_system("db", description="slow")
    sweep_inline()
    run_ids = list(AutomationRun.objects.values_list("pk", flat=True))
    assert len(run_ids) == 2

    start = threading.Barrier(2)

    def execute(pk: Any) -> str:
        start.wait(timeout=JOIN_TIMEOUT)
        return runs.execute_run(pk)

    workers = [Worker(lambda pk=pk: execute(pk), f"run-{n}") for n, pk in enumerate(run_ids)]
    for worker in workers:
        worker.start()
    join_all(*workers)
    assert [w.error for w in workers] == [None, None]
    assert sorted(w.result for w in workers) == ["success", "success"]

    incident = Incident.objects.get()  # exactly one
    assert incident.status == "resolved"
    for run in AutomationRun.objects.all():
        assert run.status == RunStatus.SUCCESS, run.error
        opened = run.artifacts.get(step_id="open").data["incidentId"]
        closed = run.artifacts.get(step_id="close").data["incidentId"]
        assert opened == closed == incident.pk


def test_a_run_executed_by_two_workers_at_once_runs_each_step_once(
    isolated_registries: None,
) -> None:
    calls: list[str] = []
    lock = threading.Lock()

    def record(ctx: ActionContext, config: RecordConfig) -> ActionResult:
        with lock:
            calls.append(config.label)
        return ActionResult(success=True)

    register_action("test.count", "Count", "Counts.", "Tests", RecordConfig, record)
    make_systems("db")
    services.create_automation(
        name="steps",
        trigger={"event": "incident.created", "filter": ""},
        steps=[
            {"id": f"s{n}", "action": "test.count", "config": {"label": f"s{n}"}} for n in range(20)
        ],
    )
    incidents.create_incident(title="X", severity="minor", system_ids=["db"])
    sweep_inline()
    pk = AutomationRun.objects.get().pk
    start = threading.Barrier(3)

    def execute() -> str:
        start.wait(timeout=JOIN_TIMEOUT)
        return runs.execute_run(pk)

    workers = [Worker(execute, f"worker-{n}") for n in range(3)]
    for worker in workers:
        worker.start()
    join_all(*workers)
    assert [w.error for w in workers] == [None, None, None]
    assert sorted(calls) == sorted(f"s{n}" for n in range(20))
    assert AutomationRun.objects.get().status == RunStatus.SUCCESS
