"""Incident triggers, the ``incident`` artifact type and the four incident actions.

Actions write through the services, so every side effect (change log, triggers, signals)
happens as for any other write.
"""

from __future__ import annotations

from collections.abc import Callable
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
from checkstack.errors import NotFound

from . import services
from .choices import Severity, Status

NO_INCIDENT = "No incident id given and no upstream incident artifact found"


class IncidentEventPayload(BaseModel):
    incidentId: str
    systemIds: list[str]
    severity: Severity
    status: Status
    statusChange: Status | None = None
    title: str | None = None
    description: str | None = None
    createdAt: str | None = None
    resolvedAt: str | None = None


class IncidentArtifact(BaseModel):
    incidentId: str
    status: Status
    severity: Severity
    systemIds: list[str]


class CreateIncidentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str | None = None
    severity: Severity = Severity.MAJOR
    system_ids: list[str] = Field(min_length=1)
    initial_message: str | None = None
    suppress_notifications: bool = False
    dedupe_open_for_system: bool = False


class ResolveIncidentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: str | None = None
    message: str | None = None


class AddUpdateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: str | None = None
    message: str = Field(min_length=1)
    status_change: Status | None = None


class UpdateStatusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: str | None = None
    status: Status
    message: str | None = None


def incident_artifact(incident: Any) -> dict[str, Any]:
    return {
        "incidentId": incident.pk,
        "status": incident.status,
        "severity": incident.severity,
        "systemIds": sorted(s.system_id for s in incident.systems.all()),
    }


def target_incident_id(ctx: ActionContext, configured: str | None) -> str | None:
    """The configured id when non-blank, else the latest consumed ``incident`` artifact's."""
    if configured and configured.strip():
        return configured.strip()
    artifact = ctx.latest_artifact("incident")
    return artifact.get("incidentId") if artifact else None


def _failure(exc: Exception) -> ActionResult:
    if isinstance(exc, ValidationError):
        return ActionResult(success=False, error="; ".join(exc.messages))
    return ActionResult(success=False, error=str(exc))


def _on_target_incident(
    ctx: ActionContext, configured: str | None, write: Callable[[str], ActionResult]
) -> ActionResult:
    """Run ``write`` on the target incident (see ``target_incident_id``); a missing target,
    an unknown incident or refused input is the action's failure."""
    incident_id = target_incident_id(ctx, configured)
    if incident_id is None:
        return ActionResult(success=False, error=NO_INCIDENT)
    try:
        return write(incident_id)
    except NotFound:
        return ActionResult(success=False, error=f"Incident {incident_id} not found")
    except ValidationError as exc:
        return _failure(exc)


def run_create(ctx: ActionContext, config: CreateIncidentConfig) -> ActionResult:
    fields = config.model_dump(exclude={"dedupe_open_for_system"})
    try:
        if config.dedupe_open_for_system:
            incident, _ = services.create_deduped_for_system(
                config.system_ids[0], actor=ctx.actor, run_id=ctx.run_id, **fields
            )
        else:
            incident = services.create_incident(actor=ctx.actor, run_id=ctx.run_id, **fields)
    except ValidationError as exc:
        return _failure(exc)
    return ActionResult(success=True, artifact=incident_artifact(incident), external_id=incident.pk)


def run_resolve(ctx: ActionContext, config: ResolveIncidentConfig) -> ActionResult:
    def resolve(incident_id: str) -> ActionResult:
        incident = services.resolve_incident(
            incident_id, message=config.message, actor=ctx.actor, run_id=ctx.run_id
        )
        return ActionResult(
            success=True, artifact=incident_artifact(incident), external_id=incident.pk
        )

    return _on_target_incident(ctx, config.incident_id, resolve)


def run_add_update(ctx: ActionContext, config: AddUpdateConfig) -> ActionResult:
    def add(incident_id: str) -> ActionResult:
        update = services.add_update(
            incident_id,
            message=config.message,
            status_change=config.status_change,
            actor=ctx.actor,
            run_id=ctx.run_id,
        )
        return ActionResult(
            success=True,
            artifact={"updateId": update.pk, "incidentId": incident_id},
            external_id=update.pk,
        )

    return _on_target_incident(ctx, config.incident_id, add)


def run_update_status(ctx: ActionContext, config: UpdateStatusConfig) -> ActionResult:
    message = config.message or f"Status changed to {config.status.value}"
    return run_add_update(
        ctx,
        AddUpdateConfig(
            incident_id=config.incident_id, message=message, status_change=config.status
        ),
    )


class UpdateArtifact(BaseModel):
    updateId: str
    incidentId: str


INCIDENT_TRIGGERS = (
    ("incident.created", "Incident created", "An incident was created."),
    (
        "incident.updated",
        "Incident updated",
        "An incident's status (other than resolving), severity or systems changed.",
    ),
    ("incident.resolved", "Incident resolved", "An incident was resolved."),
)


def register() -> None:
    for trigger_id, name, description in INCIDENT_TRIGGERS:
        register_trigger(
            trigger_id,
            name,
            description,
            "Incidents",
            IncidentEventPayload,
            context_key=lambda payload: payload.get("incidentId"),
        )
    register_artifact_type(
        "incident", "Incident", "An incident's id, status, severity and systems.", IncidentArtifact
    )
    register_artifact_type(
        "incident.update", "Incident update", "A timeline update of an incident.", UpdateArtifact
    )
    register_action(
        "incident.create",
        "Create incident",
        "Create an incident (optionally reusing the active one of its first system).",
        "Incidents",
        CreateIncidentConfig,
        run_create,
        produces="incident",
    )
    register_action(
        "incident.resolve",
        "Resolve incident",
        "Resolve the configured incident, or the one produced earlier in the run.",
        "Incidents",
        ResolveIncidentConfig,
        run_resolve,
        produces="incident",
        consumes=("incident",),
    )
    register_action(
        "incident.add_update",
        "Add timeline update",
        "Add a timeline update, optionally changing the status.",
        "Incidents",
        AddUpdateConfig,
        run_add_update,
        produces="incident.update",
        consumes=("incident",),
    )
    register_action(
        "incident.update_status",
        "Change incident status",
        "Change the status with a timeline update.",
        "Incidents",
        UpdateStatusConfig,
        run_update_status,
        produces="incident.update",
        consumes=("incident",),
    )
