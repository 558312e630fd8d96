"""The engine end to end in one process: dispatch, filter, steps, templates, artifacts, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from checkstack.automation import runs, services
from checkstack.automation.dispatch import dispatch
from checkstack.automation.models import AutomationRun, RunArtifact, RunStatus, RunStep
from checkstack.entities.models import Change, TriggerEvent
from checkstack.errors import Conflict
from incidents import services as incidents
from incidents.models import IncidentUpdate
from tests.automation.engine import drain, register_recorder
from tests.automation.helpers import critical_incident_definition, note_step
from tests.incidents.helpers import make_systems

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _registries(isolated_registries: None) -> None:
    """Tests register their own recording actions."""


@pytest.fixture
def systems(db: None) -> list[str]:
    return make_systems("db", "api")


def _messages(incident_id: str) -> list[str]:
    return list(
        IncidentUpdate.objects.filter(incident_id=incident_id)
        .order_by("created_at", "id")
        .values_list("message", flat=True)
    )


def test_critical_incident_runs_the_automation_and_adds_the_note(systems: list[str]) -> None:
    automation = services.create_automation(**critical_incident_definition())
    incident = incidents.create_incident(title="DB down", severity="critical", system_ids=["db"])
    drain()
    run = AutomationRun.objects.get(automation=automation)
    assert run.status == RunStatus.SUCCESS, run.error
    assert run.context_key == incident.pk
    assert "Paged on-call for DB down" in _messages(incident.pk)
    step = run.steps.get()
    assert (step.step_id, step.status) == ("note", "success")
    assert step.config["message"] == "Paged on-call for DB down"
    assert run.artifacts.get().type == "incident.update"


def test_minor_incident_does_not_match_the_filter(systems: list[str]) -> None:
    services.create_automation(**critical_incident_definition())
    incident = incidents.create_incident(title="Slow", severity="minor", system_ids=["db"])
    drain()
    assert not AutomationRun.objects.exists()
    assert _messages(incident.pk) == []


def test_disabled_automation_gets_no_run(systems: list[str]) -> None:
    services.create_automation(**critical_incident_definition(), enabled=False)
    incidents.create_incident(title="DB down", severity="critical", system_ids=["db"])
    drain()
    assert not AutomationRun.objects.exists()


def test_redispatching_an_event_creates_no_second_run(systems: list[str]) -> None:
    services.create_automation(**critical_incident_definition())
    incidents.create_incident(title="DB down", severity="critical", system_ids=["db"])
    event = TriggerEvent.objects.get(event="incident.created")
    dispatch(event)
    dispatch(event)
    assert AutomationRun.objects.count() == 1


@pytest.mark.parametrize(
    "filter_",
    [
        "trigger.payload.__class__.__mro__",
        "trigger.__class__.mro()[1].__subclasses__()",
        "(trigger.payload|attr('__class__')) == 1",
    ],
)
def test_filter_attribute_escape_fails_the_run_and_executes_nothing(
    systems: list[str], filter_: str
) -> None:
    definition = critical_incident_definition()
    definition["trigger"]["filter"] = filter_
    services.create_automation(**definition)
    incident = incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    drain()
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "unsafe" in run.error and "sandbox" in run.error
    assert not run.steps.exists()
    assert _messages(incident.pk) == []


def test_filter_naming_a_missing_field_fails_the_run_with_the_name(systems: list[str]) -> None:
    definition = critical_incident_definition()
    definition["trigger"]["filter"] = "trigger.payload.priority == 1"
    services.create_automation(**definition)
    incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    drain()
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "priority" in run.error


def test_template_attribute_escape_fails_the_step_before_the_action_runs(
    systems: list[str],
) -> None:
    definition = critical_incident_definition()
    definition["steps"] = [
        note_step(message="{{ trigger.payload.title.__class__.__mro__[1].__subclasses__() }}"),
        note_step("second", message="never"),
    ]
    services.create_automation(**definition)
    incident = incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    drain()
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.FAILED
    step = run.steps.get()
    assert step.status == "failed"
    assert "refused by the sandbox" in step.error and "__class__" in step.error
    assert "Step 'note' failed" in run.error
    assert _messages(incident.pk) == []


def test_single_expression_keeps_its_type_and_text_templates_render(systems: list[str]) -> None:
    calls: list[dict[str, Any]] = []
    register_recorder(calls)
    definition = critical_incident_definition()
    definition["steps"] = [
        {
            "id": "rec",
            "action": "test.record",
            "config": {"label": "{{ trigger.event }}!", "value": "{{ trigger.payload.systemIds }}"},
        }
    ]
    services.create_automation(**definition)
    incidents.create_incident(title="X", severity="critical", system_ids=["db", "api"])
    drain()
    assert calls[0]["label"] == "incident.created!"
    assert calls[0]["value"] == ["api", "db"]


def test_steps_see_earlier_results_and_artifacts(systems: list[str]) -> None:
    calls: list[dict[str, Any]] = []
    register_recorder(calls)
    definition = critical_incident_definition()
    definition["steps"] = [
        note_step(message="first"),
        {
            "id": "rec",
            "action": "test.record",
            "config": {
                "label": "{{ steps.note.result.external_id }}",
                "value": "{{ artifacts.note['incident.update'].incidentId }}",
            },
        },
    ]
    services.create_automation(**definition)
    incident = incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    drain()
    update = IncidentUpdate.objects.get(incident=incident, message="first")
    assert calls[0]["label"] == update.pk
    assert calls[0]["value"] == incident.pk


def test_failed_step_fails_the_run_and_skips_later_steps(systems: list[str]) -> None:
    calls: list[dict[str, Any]] = []
    register_recorder(calls)
    definition = critical_incident_definition()
    definition["steps"] = [
        note_step(message="x", incident_id="no-such-incident"),
        {"id": "rec", "action": "test.record", "config": {"label": "after"}},
    ]
    services.create_automation(**definition)
    incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    drain()
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "no-such-incident not found" in run.error
    assert calls == []
    assert [s.status for s in run.steps.all()] == ["failed"]


def test_continue_on_error_runs_the_next_step(systems: list[str]) -> None:
    calls: list[dict[str, Any]] = []
    register_recorder(calls)
    definition = critical_incident_definition()
    definition["steps"] = [
        {**note_step(message="x", incident_id="no-such-incident"), "continue_on_error": True},
        {"id": "rec", "action": "test.record", "config": {"label": "after"}},
    ]
    services.create_automation(**definition)
    incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    drain()
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.SUCCESS
    assert [s.status for s in run.steps.order_by("position")] == ["failed", "success"]
    assert [c["label"] for c in calls] == ["after"]


def test_raising_action_fails_its_step_and_rolls_back_its_writes(systems: list[str]) -> None:
    from checkstack.automation.registry import register_action
    from tests.automation.engine import RecordConfig

    def explode(ctx: Any, config: Any) -> Any:
        incidents.add_update(ctx.context_key, message="half-done", run_id=ctx.run_id)
        raise RuntimeError("boom")

    register_action("test.explode", "Explode", "Raises.", "Tests", RecordConfig, explode)
    definition = critical_incident_definition()
    definition["steps"] = [{"id": "boom", "action": "test.explode", "config": {"label": "x"}}]
    services.create_automation(**definition)
    incident = incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    drain()
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert "RuntimeError: boom" in run.steps.get().error
    assert _messages(incident.pk) == []


def test_create_then_resolve_uses_the_created_incident_artifact(systems: list[str]) -> None:
    definition = {
        "name": "Follow-up",
        "trigger": {
            "event": "incident.created",
            "filter": "trigger.payload.severity == 'critical'",
        },
        "steps": [
            {
                "id": "create",
                "action": "incident.create",
                "config": {
                    "title": "Follow-up of {{ trigger.payload.title }}",
                    "system_ids": ["api"],
                    "severity": "minor",
                },
            },
            {"id": "resolve", "action": "incident.resolve", "config": {"message": "done"}},
        ],
    }
    services.create_automation(**definition)
    trigger_incident = incidents.create_incident(title="DB", severity="critical", system_ids=["db"])
    drain()
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.SUCCESS, run.error
    created_id = run.artifacts.filter(step_id="create").get().data["incidentId"]
    assert incidents.get_incident(created_id).status == "resolved"
    assert incidents.get_incident(trigger_incident.pk).status != "resolved"
    assert RunArtifact.objects.filter(run=run, type="incident").count() == 2


def test_trigger_supplies_the_incident_when_no_step_produced_one(systems: list[str]) -> None:
    definition = critical_incident_definition()
    definition["steps"] = [note_step(message="seen")]  # no incident_id: from the trigger
    services.create_automation(**definition)
    incident = incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    drain()
    assert _messages(incident.pk) == ["seen"]


def test_changes_written_by_a_run_carry_its_run_id_and_actor(systems: list[str]) -> None:
    definition = critical_incident_definition()
    definition["steps"] = [
        {"id": "status", "action": "incident.update_status", "config": {"status": "identified"}}
    ]
    services.create_automation(**definition)
    incident = incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    drain()
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.SUCCESS, run.error
    change = Change.objects.filter(kind="incident", entity_id=incident.pk).order_by("seq").last()
    assert change is not None and change.seq == 2
    assert change.run_id == str(run.pk)
    assert change.actor["id"] == f"automation:{run.automation_id}"


def test_secret_resolved_by_a_run_is_masked_in_changes_and_step_records(
    systems: list[str], settings: Any
) -> None:
    secret = "tok-9f8e7d6c5b4a"
    settings.CHECKSTACK_AUTOMATION_SECRETS = {"PAGER": secret}
    definition = critical_incident_definition()
    definition["steps"] = [
        {
            "id": "meta",
            "action": "catalog.update_metadata",
            "config": {
                "system_id": "{{ trigger.payload.systemIds[0] }}",
                "metadata": {"pager": "Bearer {{ secrets.PAGER }}"},
            },
        },
        note_step(message="paged with {{ secrets.PAGER }}"),
    ]
    services.create_automation(**definition)
    incident = incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    drain()
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.SUCCESS, run.error
    # The domain rows hold what the operator asked for; the logs never do.
    assert _messages(incident.pk) == [f"paged with {secret}"]
    from catalog.models import System

    assert System.objects.get(pk="db").metadata["pager"] == f"Bearer {secret}"
    logged = [json.dumps([c.prev, c.next, c.delta]) for c in Change.objects.filter(run_id=run.pk)]
    assert logged and all(secret not in text for text in logged)
    assert any("Bearer ****" in text for text in logged)
    for step in RunStep.objects.all():
        assert secret not in json.dumps([step.config, step.result, step.error])
    assert "Bearer ****" in json.dumps(RunStep.objects.get(step_id="meta").config)
    assert secret not in json.dumps(list(RunArtifact.objects.values_list("data", flat=True)))


def test_cancel_active_run_and_refuse_cancelling_a_finished_one(systems: list[str]) -> None:
    services.create_automation(**critical_incident_definition())
    incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    from checkstack.entities.delivery import sweep_inline

    sweep_inline()  # dispatched, not executed
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.PENDING
    runs.cancel_run(run.pk)
    assert runs.execute_run(run.pk) == "cancelled"
    assert not run.steps.exists()
    with pytest.raises(Conflict):
        runs.cancel_run(run.pk)


def test_step_interrupted_by_a_crash_is_executed_once_on_resume(systems: list[str]) -> None:
    services.create_automation(**critical_incident_definition())
    incident = incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    from checkstack.entities.delivery import sweep_inline

    sweep_inline()
    run = AutomationRun.objects.get()
    # What a worker killed mid-step leaves: the claim committed, the step's work rolled back.
    from django.db import transaction

    from checkstack.automation.runs.engine import claim_step, lock_run

    with transaction.atomic():
        locked = lock_run(run.pk)
        assert locked is not None
        assert claim_step(locked) == (0, 1)
    assert runs.execute_run(run.pk) == "success"
    assert _messages(incident.pk) == ["Paged on-call for X"]
    assert run.steps.get().attempts == 2


def test_step_interrupted_too_often_fails_the_run(systems: list[str], settings: Any) -> None:
    settings.CHECKSTACK_RUN_STEP_MAX_ATTEMPTS = 2
    services.create_automation(**critical_incident_definition())
    incident = incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    from django.db import transaction

    from checkstack.automation.runs.engine import claim_step, lock_run
    from checkstack.entities.delivery import sweep_inline

    sweep_inline()
    run = AutomationRun.objects.get()
    for _ in range(2):
        with transaction.atomic():
            claim_step(lock_run(run.pk))  # type: ignore[arg-type]
    assert runs.execute_run(run.pk) == "failed"
    run.refresh_from_db()
    assert "interrupted 2 times" in run.error
    assert _messages(incident.pk) == []


def test_sweep_reenqueues_a_stalled_run(
    systems: list[str], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from django.utils import timezone

    from checkstack.entities import outbox

    services.create_automation(**critical_incident_definition())
    incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    from checkstack.entities.delivery import sweep_inline

    sweep_inline()
    run = AutomationRun.objects.get()
    enqueued: list[Any] = []
    monkeypatch.setattr(outbox, "enqueue_tasks", lambda jobs: enqueued.extend(jobs))
    settings.CHECKSTACK_ENQUEUE = True
    assert runs.sweep()["runs_stalled"] == 0  # fresh: left to its own enqueue
    later = timezone.now() + dt.timedelta(seconds=61)
    assert runs.sweep(now=later)["runs_stalled"] == 1
    assert enqueued == [("checkstack.automation.tasks.execute_run", str(run.pk))]


def test_webhook_step_runs_outside_the_transaction_and_replays_with_the_same_id(
    systems: list[str],
) -> None:
    from django.db import transaction

    from checkstack.automation.runs.engine import claim_step, lock_run
    from checkstack.automation.webhooks import action_message_id
    from checkstack.entities.delivery import sweep_inline
    from tests.automation.receiver import WebhookReceiver

    with WebhookReceiver() as receiver:
        definition = critical_incident_definition()
        definition["steps"] = [
            {"id": "page", "action": "webhook.send", "config": {"url": receiver.url}},
            note_step(message="paged {{ steps.page.result.external_id }}"),
        ]
        services.create_automation(**definition)
        incident = incidents.create_incident(title="X", severity="critical", system_ids=["db"])
        sweep_inline()
        run = AutomationRun.objects.get()
        with transaction.atomic():  # a first claim whose worker died mid-request
            claim_step(lock_run(run.pk))  # type: ignore[arg-type]
        assert runs.execute_run(run.pk) == "success"
        (request,) = receiver.requests
    message_id = action_message_id(str(run.pk), "page")
    assert request.headers["webhook-id"] == message_id
    assert _messages(incident.pk) == [f"paged {message_id}"]
    assert run.steps.get(step_id="page").attempts == 2


def test_an_automations_own_writes_do_not_start_it_again(systems: list[str]) -> None:
    calls: list[dict[str, Any]] = []
    register_recorder(calls)
    services.create_automation(
        name="escalate on update",
        trigger={"event": "incident.updated", "filter": ""},
        steps=[
            {"id": "rec", "action": "test.record", "config": {"label": "ran"}},
            {"id": "status", "action": "incident.update_status", "config": {"status": "fixing"}},
        ],
    )
    services.create_automation(
        name="observer",
        trigger={"event": "incident.updated", "filter": "trigger.payload.status == 'fixing'"},
        steps=[{"id": "rec", "action": "test.record", "config": {"label": "observed"}}],
    )
    incident = incidents.create_incident(title="X", severity="minor", system_ids=["db"])
    incidents.update_incident(incident.pk, severity="major")
    drain()
    # The first automation ran once (its own status change did not start it again); the other
    # automation saw that change.
    assert sorted(c["label"] for c in calls) == ["observed", "ran"]
    assert incidents.get_incident(incident.pk).status == "fixing"
