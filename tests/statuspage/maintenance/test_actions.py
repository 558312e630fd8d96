"""The ``maintenance.create`` and ``maintenance.complete`` actions, run through the registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError as ConfigError

from checkstack.automation import ActionContext, ActionResult, get_action, get_artifact_type
from statuspage.models import Maintenance
from tests.statuspage.maintenance.helpers import (
    changes,
    make_maintenance,
    reload,
    running,
    window,
)

pytestmark = pytest.mark.django_db

RUN_ACTOR = {"type": "service", "id": "automation", "name": "Automation"}
NO_MAINTENANCE = "No maintenance id given and no upstream maintenance artifact found"


def run(
    action_id: str, config: dict[str, Any], artifacts: Mapping[str, list[Any]] | None = None
) -> ActionResult:
    action = get_action(action_id)
    assert action is not None, f"{action_id} is not registered"
    ctx = ActionContext(
        run_id="run-1",
        context_key=None,
        actor=RUN_ACTOR,
        consumed_artifacts=dict(artifacts or {}),
    )
    return action.run(ctx, action.config_schema.model_validate(config))


def iso_window() -> dict[str, str]:
    return {name: moment.isoformat() for name, moment in window().items()}


def test_create_schedules_through_the_service_and_produces_the_artifact(
    systems: list[str],
) -> None:
    result = run(
        "maintenance.create",
        {"title": "Patch night", "system_ids": ["web", "db"], "visibility": "internal"}
        | iso_window(),
    )

    assert result.success, result.error
    maintenance = Maintenance.objects.get()
    assert result.external_id == maintenance.pk
    assert result.artifact == {
        "maintenanceId": maintenance.pk,
        "status": "scheduled",
        "systemIds": ["db", "web"],
        "startsAt": maintenance.starts_at.isoformat(),
        "endsAt": maintenance.ends_at.isoformat(),
    }
    get_artifact_type("maintenance").schema.model_validate(result.artifact)
    (created,) = changes(maintenance.pk)
    assert (created.actor, created.run_id) == (RUN_ACTOR, "run-1")


def test_create_with_refused_input_fails_and_writes_nothing(systems: list[str]) -> None:
    times = iso_window()
    times["ends_at"] = times["starts_at"]

    result = run("maintenance.create", {"title": "Patch", "system_ids": ["ghost"]} | times)

    assert not result.success
    assert "Must be after starts_at." in result.error
    assert not Maintenance.objects.exists()


def test_create_config_is_strict() -> None:
    schema = get_action("maintenance.create").config_schema

    with pytest.raises(ConfigError):
        schema.model_validate({"title": "x", "system_ids": [], **iso_window()})
    with pytest.raises(ConfigError):
        schema.model_validate({"title": "x", "system_ids": ["db"], "colour": 1, **iso_window()})


def test_complete_finishes_the_configured_maintenance(systems: list[str]) -> None:
    maintenance = running()

    result = run("maintenance.complete", {"maintenance_id": maintenance.pk, "message": "All done"})

    assert result.success, result.error
    assert result.artifact["status"] == "completed"
    assert reload(maintenance).updates.last().message == "All done"


def test_complete_takes_the_upstream_artifact(systems: list[str]) -> None:
    maintenance = running()
    artifact = {"maintenanceId": maintenance.pk, "status": "in_progress"}

    result = run("maintenance.complete", {}, {"maintenance": [artifact]})

    assert result.success, result.error
    assert reload(maintenance).status == "completed"


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({}, NO_MAINTENANCE),
        ({"maintenance_id": "  "}, NO_MAINTENANCE),
        ({"maintenance_id": "nope"}, "Maintenance nope not found"),
    ],
)
def test_complete_without_a_maintenance_fails(db: None, config: dict[str, Any], error: str) -> None:
    result = run("maintenance.complete", config)

    assert (result.success, result.error) == (False, error)


def test_completing_a_scheduled_maintenance_fails_and_changes_nothing(
    systems: list[str],
) -> None:
    maintenance = make_maintenance()

    result = run("maintenance.complete", {"maintenance_id": maintenance.pk})

    assert not result.success
    assert "can become completed only from in_progress" in result.error
    assert reload(maintenance).status == "scheduled"
