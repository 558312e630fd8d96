"""Maintenance triggers, the ``maintenance`` artifact type and the actions
``maintenance.create`` and ``maintenance.complete`` (writes through the services)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from pydantic import BaseModel, ConfigDict, Field

from checkstack.automation import (
    ActionContext,
    ActionResult,
    register_action,
    register_artifact_type,
    register_trigger,
)
from checkstack.errors import Conflict, NotFound
from incidents.choices import Visibility
from statuspage.models import Maintenance

from . import services
from .choices import MaintenanceStatus
from .entity import CANCELLED, COMPLETED, SCHEDULED, STARTED, UPDATED

NO_MAINTENANCE = "No maintenance id given and no upstream maintenance artifact found"
CATEGORY = "Scheduled maintenance"


class MaintenanceEventPayload(BaseModel):
    maintenanceId: str
    title: str | None = None
    systemIds: list[str]
    status: MaintenanceStatus
    startsAt: dt.datetime
    endsAt: dt.datetime
    visibility: Visibility


class MaintenanceArtifact(BaseModel):
    maintenanceId: str
    status: MaintenanceStatus
    systemIds: list[str]
    startsAt: dt.datetime
    endsAt: dt.datetime


class CreateMaintenanceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str | None = None
    system_ids: list[str] = Field(min_length=1)
    starts_at: dt.datetime
    ends_at: dt.datetime
    visibility: Visibility = Visibility.PUBLIC


class CompleteMaintenanceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maintenance_id: str | None = None
    message: str | None = None


def maintenance_artifact(maintenance: Maintenance) -> dict[str, Any]:
    return {
        "maintenanceId": maintenance.pk,
        "status": maintenance.status,
        "systemIds": sorted(s.system_id for s in maintenance.systems.all()),
        "startsAt": maintenance.starts_at.isoformat(),
        "endsAt": maintenance.ends_at.isoformat(),
    }


def refused(exc: Exception) -> ActionResult:
    if isinstance(exc, ValidationError):
        return ActionResult(success=False, error="; ".join(exc.messages))
    return ActionResult(success=False, error=str(exc))


def run_create(ctx: ActionContext, config: CreateMaintenanceConfig) -> ActionResult:
    try:
        maintenance = services.create_maintenance(
            **config.model_dump(), actor=ctx.actor, run_id=ctx.run_id
        )
    except ValidationError as exc:
        return refused(exc)
    return ActionResult(
        success=True, artifact=maintenance_artifact(maintenance), external_id=maintenance.pk
    )


def run_complete(ctx: ActionContext, config: CompleteMaintenanceConfig) -> ActionResult:
    """The configured maintenance, else the latest consumed ``maintenance`` artifact's."""
    maintenance_id = (config.maintenance_id or "").strip() or (
        ctx.latest_artifact("maintenance") or {}
    ).get("maintenanceId")
    if not maintenance_id:
        return ActionResult(success=False, error=NO_MAINTENANCE)
    try:
        maintenance = services.complete_maintenance(
            maintenance_id, message=config.message, actor=ctx.actor, run_id=ctx.run_id
        )
    except (NotFound, Conflict, ValidationError) as exc:
        return refused(exc)
    return ActionResult(
        success=True, artifact=maintenance_artifact(maintenance), external_id=maintenance.pk
    )


MAINTENANCE_TRIGGERS = (
    (SCHEDULED, "Maintenance scheduled", "A maintenance was scheduled."),
    (STARTED, "Maintenance started", "A scheduled maintenance started (on time or by hand)."),
    (COMPLETED, "Maintenance completed", "A maintenance in progress was completed."),
    (CANCELLED, "Maintenance cancelled", "A scheduled or running maintenance was cancelled."),
    (
        UPDATED,
        "Maintenance updated",
        "A maintenance's window, systems or visibility changed.",
    ),
)


def register() -> None:
    for trigger_id, name, description in MAINTENANCE_TRIGGERS:
        register_trigger(
            trigger_id,
            name,
            description,
            CATEGORY,
            MaintenanceEventPayload,
            context_key=lambda payload: payload.get("maintenanceId"),
        )
    register_artifact_type(
        "maintenance",
        "Maintenance",
        "A scheduled maintenance's id, status, systems and window.",
        MaintenanceArtifact,
    )
    register_action(
        "maintenance.create",
        "Schedule maintenance",
        "Schedule a maintenance of some systems; the schedule starts and completes it on time.",
        CATEGORY,
        CreateMaintenanceConfig,
        run_create,
        produces="maintenance",
    )
    register_action(
        "maintenance.complete",
        "Complete maintenance",
        "Complete the configured maintenance in progress, or the one produced earlier in the run.",
        CATEGORY,
        CompleteMaintenanceConfig,
        run_complete,
        produces="maintenance",
        consumes=("maintenance",),
    )
