"""The four incident actions, run through the action registry's definitions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError as ConfigError

from checkstack.automation import ActionContext, ActionResult, get_action, get_artifact_type
from checkstack.entities.models import Change
from incidents.models import Incident, IncidentUpdate
from tests.incidents.helpers import changes, events, make_incident, reload, status_of

pytestmark = pytest.mark.django_db

RUN_ACTOR = {"type": "service", "id": "automation", "name": "Automation"}
NO_INCIDENT = "No incident id given and no upstream incident artifact found"


def context(
    artifacts: Mapping[str, list[dict[str, Any]]] | None = None, run_id: str | None = "run-1"
) -> ActionContext:
    return ActionContext(
        run_id=run_id,
        context_key=None,
        actor=RUN_ACTOR,
        consumed_artifacts=dict(artifacts or {}),
    )


def run(action_id: str, config: dict[str, Any], ctx: ActionContext | None = None) -> ActionResult:
    action = get_action(action_id)
    assert action is not None, f"{action_id} is not registered"
    return action.run(ctx or context(), action.config_schema.model_validate(config))


def artifact_of(incident: Incident) -> dict[str, Any]:
    return {
        "incidentId": incident.pk,
        "status": incident.status,
        "severity": incident.severity,
        "systemIds": sorted(incident.systems.values_list("system_id", flat=True)),
    }


# -- incident.create ------------------------------------------------------------------------------


def test_create_writes_through_the_service_and_produces_the_incident_artifact(
    systems: list[str],
) -> None:
    result = run(
        "incident.create",
        {
            "title": "Checks failing",
            "severity": "critical",
            "system_ids": ["web", "db"],
            "initial_message": "Automatic",
            "suppress_notifications": True,
        },
    )

    assert result.success, result.error
    incident = Incident.objects.get()
    assert (incident.title, incident.severity, incident.suppress_notifications) == (
        "Checks failing",
        "critical",
        True,
    )
    assert result.external_id == incident.pk
    assert result.artifact == {
        "incidentId": incident.pk,
        "status": "investigating",
        "severity": "critical",
        "systemIds": ["db", "web"],
    }
    artifact_type = get_artifact_type("incident")
    assert artifact_type is not None
    artifact_type.schema.model_validate(result.artifact)
    (change,) = changes(incident.pk)
    assert (change.actor, change.run_id) == (RUN_ACTOR, "run-1")
    update = IncidentUpdate.objects.get(incident=incident)
    assert (update.message, update.status_change) == ("Automatic", "investigating")


def test_create_with_dedupe_reuses_the_active_incident_of_the_first_system(
    systems: list[str],
) -> None:
    existing = make_incident(["db"], title="Already open")
    config = {
        "title": "Checks failing",
        "system_ids": ["db", "api"],
        "dedupe_open_for_system": True,
    }

    result = run("incident.create", config)

    assert result.success, result.error
    assert result.artifact == artifact_of(existing)
    assert result.external_id == existing.pk
    assert Incident.objects.count() == 1
    assert len(changes(existing.pk)) == 1


def test_create_with_dedupe_creates_when_the_first_system_has_no_active_incident(
    systems: list[str],
) -> None:
    make_incident(["api"], title="Other system")
    config = {
        "title": "Checks failing",
        "system_ids": ["db", "api"],
        "dedupe_open_for_system": True,
    }

    result = run("incident.create", config)

    assert result.success, result.error
    assert result.artifact is not None
    assert result.artifact["systemIds"] == ["api", "db"]
    assert Incident.objects.count() == 2


def test_create_with_unknown_systems_fails_the_step(systems: list[str]) -> None:
    result = run("incident.create", {"title": "x", "system_ids": ["ghost"]})
    assert not result.success
    assert result.error is not None
    assert "Unknown system ids: ghost." in result.error
    assert not Incident.objects.exists()


def test_create_config_needs_a_title_and_at_least_one_system() -> None:
    action = get_action("incident.create")
    assert action is not None
    with pytest.raises(ConfigError):
        action.config_schema.model_validate({"title": "x", "system_ids": []})
    with pytest.raises(ConfigError):
        action.config_schema.model_validate({"system_ids": ["db"]})


# -- consumers: which incident ------------------------------------------------------------------


CONSUMERS = [
    ("incident.resolve", {}),
    ("incident.add_update", {"message": "Note"}),
    ("incident.update_status", {"status": "monitoring"}),
]


@pytest.mark.parametrize(("action_id", "config"), CONSUMERS)
def test_consumer_without_incident_id_or_artifact_fails(
    db: None, action_id: str, config: dict[str, Any]
) -> None:
    result = run(action_id, config)
    assert (result.success, result.error) == (False, NO_INCIDENT)
    result = run(action_id, {**config, "incident_id": "   "}, context({"incident": []}))
    assert (result.success, result.error) == (False, NO_INCIDENT)


@pytest.mark.parametrize(("action_id", "config"), CONSUMERS)
def test_consumer_of_a_missing_incident_fails_with_not_found(
    db: None, action_id: str, config: dict[str, Any]
) -> None:
    result = run(action_id, {**config, "incident_id": "gone-1"})
    assert (result.success, result.error) == (False, "Incident gone-1 not found")
    upstream = context({"incident": [{"incidentId": "gone-2"}]})
    result = run(action_id, config, upstream)
    assert (result.success, result.error) == (False, "Incident gone-2 not found")
    assert not Change.objects.exists()


@pytest.mark.parametrize(("action_id", "config"), CONSUMERS)
def test_consumer_takes_the_latest_upstream_incident_artifact(
    systems: list[str], action_id: str, config: dict[str, Any]
) -> None:
    latest = make_incident(["db"], title="latest")
    older = make_incident(["api"], title="older")
    ctx = context({"incident": [artifact_of(latest), artifact_of(older)]})

    result = run(action_id, config, ctx)

    assert result.success, result.error
    assert IncidentUpdate.objects.filter(incident=latest).count() == 1
    assert not IncidentUpdate.objects.filter(incident=older).exists()


@pytest.mark.parametrize(("action_id", "config"), CONSUMERS)
def test_configured_incident_id_wins_over_the_artifact(
    systems: list[str], action_id: str, config: dict[str, Any]
) -> None:
    configured = make_incident(["db"], title="configured")
    upstream = make_incident(["api"], title="upstream")
    ctx = context({"incident": [artifact_of(upstream)]})

    result = run(action_id, {**config, "incident_id": configured.pk}, ctx)

    assert result.success, result.error
    assert IncidentUpdate.objects.filter(incident=configured).count() == 1
    assert not IncidentUpdate.objects.filter(incident=upstream).exists()


# -- what each consumer does --------------------------------------------------------------------


def test_resolve_action_resolves_and_produces_the_incident_artifact(systems: list[str]) -> None:
    incident = make_incident(["db"])

    result = run("incident.resolve", {"incident_id": incident.pk, "message": "Auto-resolved"})

    assert result.success, result.error
    assert result.artifact == {**artifact_of(incident), "status": "resolved"}
    assert IncidentUpdate.objects.get(incident=incident).message == "Auto-resolved"
    last = changes(incident.pk)[-1]
    assert (last.actor, last.run_id, last.next["status"]) == (RUN_ACTOR, "run-1", "resolved")


def test_resolve_action_on_a_resolved_incident_succeeds_without_writing(
    systems: list[str],
) -> None:
    incident = make_incident(["db"])
    run("incident.resolve", {"incident_id": incident.pk})

    result = run("incident.resolve", {"incident_id": incident.pk})

    assert result.success, result.error
    assert IncidentUpdate.objects.filter(incident=incident).count() == 1


def test_add_update_action_produces_the_update_artifact(systems: list[str]) -> None:
    incident = make_incident(["db"])

    result = run(
        "incident.add_update",
        {"incident_id": incident.pk, "message": "Cause found", "status_change": "identified"},
    )

    assert result.success, result.error
    update = IncidentUpdate.objects.get(incident=incident)
    assert result.artifact == {"updateId": update.pk, "incidentId": incident.pk}
    assert (update.message, update.status_change) == ("Cause found", "identified")
    assert status_of(incident.pk) == "identified"


def test_update_status_action_uses_the_default_message(systems: list[str]) -> None:
    incident = make_incident(["db"])

    result = run("incident.update_status", {"incident_id": incident.pk, "status": "monitoring"})

    assert result.success, result.error
    update = IncidentUpdate.objects.get(incident=incident)
    assert (update.message, update.status_change) == ("Status changed to monitoring", "monitoring")
    assert result.artifact == {"updateId": update.pk, "incidentId": incident.pk}
    assert reload(incident).status == "monitoring"


def test_update_status_action_with_a_message_and_reopening(systems: list[str]) -> None:
    incident = make_incident(["db"])
    run("incident.resolve", {"incident_id": incident.pk})

    result = run(
        "incident.update_status",
        {"incident_id": incident.pk, "status": "investigating", "message": "Flapping"},
    )

    assert result.success, result.error
    row = reload(incident)
    assert (row.status, row.resolved_at) == ("investigating", None)
    assert IncidentUpdate.objects.filter(
        incident=incident, message="Flapping", status_change="investigating"
    ).exists()


def test_actions_have_every_side_effect_of_the_services(
    systems: list[str], sent: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        created = run("incident.create", {"title": "Checks failing", "system_ids": ["db"]})
    assert created.artifact is not None
    upstream = context({"incident": [created.artifact]})
    with django_capture_on_commit_callbacks(execute=True):
        run("incident.update_status", {"status": "identified"}, upstream)
    with django_capture_on_commit_callbacks(execute=True):
        run("incident.resolve", {}, upstream)
    with django_capture_on_commit_callbacks(execute=True):
        run("incident.add_update", {"message": "Back", "status_change": "fixing"}, upstream)

    incident_id = created.artifact["incidentId"]
    assert [(s["incident_id"], s["action"], s["actor"]) for s in sent] == [
        (incident_id, "created", RUN_ACTOR),
        (incident_id, "updated", RUN_ACTOR),
        (incident_id, "resolved", RUN_ACTOR),
        (incident_id, "reopened", RUN_ACTOR),
    ]
    assert [event for event, _ in events(incident_id)] == [
        "incident.created",
        "incident.updated",
        "incident.resolved",
        "incident.updated",
    ]
    assert {c.run_id for c in changes(incident_id)} == {"run-1"}
