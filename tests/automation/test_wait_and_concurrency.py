"""wait_for_trigger and the concurrency modes (single, parallel, restart) per bucket."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from checkstack.automation import runs, services
from checkstack.automation.models import AutomationRun, RunStatus
from incidents import services as incidents
from tests.automation.engine import drain, register_recorder
from tests.incidents.helpers import make_systems

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _registries(isolated_registries: None) -> None:
    """Tests register their own recording actions."""


@pytest.fixture
def calls(isolated_registries: None) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = []
    register_recorder(recorded)
    return recorded


@pytest.fixture
def systems(db: None) -> list[str]:
    return make_systems("db", "api")


def _ticket_automation(close_value: str = "{{ resume.payload.incidentId }}", **wait: Any) -> Any:
    """Open a ticket on incident.created, wait for the incident's resolve, close the ticket."""
    return services.create_automation(
        name="Ticket",
        trigger={"event": "incident.created", "filter": ""},
        steps=[
            {"id": "open", "action": "test.record", "config": {"label": "open"}},
            {
                "id": "wait",
                "action": "automation.wait_for_trigger",
                "config": {"event": "incident.resolved", "timeout_seconds": 3600, **wait},
            },
            {
                "id": "close",
                "action": "test.record",
                "config": {"label": "close", "value": close_value},
            },
        ],
    )


def test_wait_for_trigger_resumes_only_on_the_same_incidents_resolve(
    systems: list[str], calls: list[dict[str, Any]]
) -> None:
    _ticket_automation()
    first = incidents.create_incident(title="A", severity="major", system_ids=["db"])
    second = incidents.create_incident(title="B", severity="major", system_ids=["api"])
    drain()
    waiting = {run.context_key: run for run in AutomationRun.objects.all()}
    assert {run.status for run in waiting.values()} == {RunStatus.WAITING}
    assert [c["label"] for c in calls] == ["open", "open"]

    incidents.resolve_incident(second.pk)
    drain()
    assert AutomationRun.objects.get(context_key=first.pk).status == RunStatus.WAITING
    run = AutomationRun.objects.get(context_key=second.pk)
    assert run.status == RunStatus.SUCCESS, run.error
    assert calls[-1] == {
        "label": "close",
        "value": second.pk,
        "run_id": str(run.pk),
        "context_key": second.pk,
    }
    assert [c["label"] for c in calls].count("close") == 1
    assert run.steps.get(step_id="wait").result["event"] == "incident.resolved"


def test_wait_for_trigger_times_out_and_fails_the_run(
    systems: list[str], calls: list[dict[str, Any]]
) -> None:
    _ticket_automation()
    incident = incidents.create_incident(title="A", severity="major", system_ids=["db"])
    drain()
    runs.sweep(now=timezone.now() + dt.timedelta(seconds=3599))
    assert AutomationRun.objects.get().status == RunStatus.WAITING
    result = runs.sweep(now=timezone.now() + dt.timedelta(seconds=3601))
    assert result["runs_timed_out"] == 1
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "Timed out after 3600 s waiting for 'incident.resolved'" in run.error
    incidents.resolve_incident(incident.pk)
    drain()
    assert AutomationRun.objects.get().status == RunStatus.FAILED
    assert [c["label"] for c in calls] == ["open"]


def test_wait_for_trigger_continue_on_timeout_runs_the_next_step(
    systems: list[str], calls: list[dict[str, Any]]
) -> None:
    _ticket_automation(
        close_value="{{ resume.payload.incidentId if resume else 'timed out' }}",
        continue_on_timeout=True,
    )
    incidents.create_incident(title="A", severity="major", system_ids=["db"])
    drain()
    runs.sweep(now=timezone.now() + dt.timedelta(seconds=3601))
    drain()
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.SUCCESS, run.error
    assert run.steps.get(step_id="wait").result == {"timed_out": True}
    assert [(c["label"], c["value"]) for c in calls] == [("open", None), ("close", "timed out")]


def test_event_that_committed_while_the_run_was_not_yet_waiting_still_wakes_it(
    systems: list[str], calls: list[dict[str, Any]]
) -> None:
    from checkstack.entities.delivery import sweep_inline

    _ticket_automation()
    incident = incidents.create_incident(title="A", severity="major", system_ids=["db"])
    sweep_inline()  # the run exists but has not reached its wait yet
    incidents.resolve_incident(incident.pk)
    sweep_inline()  # incident.resolved dispatched: nobody is waiting
    drain()
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.SUCCESS, run.error
    assert [c["label"] for c in calls] == ["open", "close"]


def _waiting_automation(mode: str, scope: str = "context_key", max_runs: int = 5) -> Any:
    """On every incident update: record, then wait (so the run stays active)."""
    return services.create_automation(
        name=f"{mode} {scope}",
        trigger={"event": "incident.updated", "filter": ""},
        steps=[
            {
                "id": "rec",
                "action": "test.record",
                "config": {"label": "{{ trigger.payload.severity }}"},
            },
            {
                "id": "wait",
                "action": "automation.wait_for_trigger",
                "config": {"event": "incident.resolved", "timeout_seconds": 3600},
            },
        ],
        concurrency={"scope": scope, "mode": mode, "max_runs": max_runs},
    )


def _statuses(incident_id: str) -> list[str]:
    return list(
        AutomationRun.objects.filter(context_key=incident_id)
        .order_by("created_at", "id")
        .values_list("status", flat=True)
    )


def test_single_per_context_key_skips_while_a_run_is_active(
    systems: list[str], calls: list[dict[str, Any]]
) -> None:
    _waiting_automation("single")
    a = incidents.create_incident(title="A", severity="minor", system_ids=["db"])
    b = incidents.create_incident(title="B", severity="minor", system_ids=["api"])
    incidents.update_incident(a.pk, severity="major")
    incidents.update_incident(b.pk, severity="major")  # another key: not blocked by a's run
    drain()
    incidents.update_incident(a.pk, severity="critical")
    drain()
    assert _statuses(a.pk) == ["waiting", "skipped"]
    assert _statuses(b.pk) == ["waiting"]
    skipped = AutomationRun.objects.get(status="skipped")
    assert "still active" in skipped.error and not skipped.steps.exists()
    # Once the active run ends, the next event runs again.
    runs.cancel_run(AutomationRun.objects.get(context_key=a.pk, status="waiting").pk)
    incidents.update_incident(a.pk, severity="minor")
    drain()
    assert _statuses(a.pk) == ["cancelled", "skipped", "waiting"]


def test_single_per_automation_blocks_other_context_keys(
    systems: list[str], calls: list[dict[str, Any]]
) -> None:
    _waiting_automation("single", scope="automation")
    a = incidents.create_incident(title="A", severity="minor", system_ids=["db"])
    b = incidents.create_incident(title="B", severity="minor", system_ids=["api"])
    incidents.update_incident(a.pk, severity="major")
    drain()
    incidents.update_incident(b.pk, severity="major")
    drain()
    assert _statuses(a.pk) == ["waiting"]
    assert _statuses(b.pk) == ["skipped"]


def test_parallel_allows_max_runs_per_bucket(
    systems: list[str], calls: list[dict[str, Any]]
) -> None:
    _waiting_automation("parallel", max_runs=2)
    a = incidents.create_incident(title="A", severity="minor", system_ids=["db"])
    for severity in ("major", "critical", "minor"):
        incidents.update_incident(a.pk, severity=severity)
        drain()
    assert _statuses(a.pk) == ["waiting", "waiting", "skipped"]
    assert "max_runs" in AutomationRun.objects.get(status="skipped").error


def test_restart_cancels_the_active_run_of_the_bucket(
    systems: list[str], calls: list[dict[str, Any]]
) -> None:
    _waiting_automation("restart")
    a = incidents.create_incident(title="A", severity="minor", system_ids=["db"])
    b = incidents.create_incident(title="B", severity="minor", system_ids=["api"])
    incidents.update_incident(a.pk, severity="major")
    incidents.update_incident(b.pk, severity="major")
    drain()
    incidents.update_incident(a.pk, severity="critical")
    drain()
    assert _statuses(a.pk) == ["cancelled", "waiting"]
    assert _statuses(b.pk) == ["waiting"]  # another bucket: untouched
    cancelled = AutomationRun.objects.get(status="cancelled")
    assert "restarted by trigger event" in cancelled.error
    assert cancelled.steps.get(step_id="wait").status == "cancelled"
    assert [c["label"] for c in calls] == ["major", "major", "critical"]
