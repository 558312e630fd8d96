"""Changing an existing incident: its own fields and systems, resolving it, deleting it."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from checkstack.actors import ActorLike, to_actor, user_of
from checkstack.errors import NotFound
from checkstack.validation import (
    UNSET,
    Errors,
    clean_choice,
    clean_optional_text,
    clean_required_text,
)

from ..choices import Severity, Status, Visibility
from ..entity import IncidentState, incident_handle
from ..models import Incident, IncidentSystem, IncidentUpdate
from .fields import (
    MAX_TITLE,
    check_systems_exist,
    clean_bool,
    clean_health_override,
    clean_system_ids,
    clean_visibility,
)
from .timeline import set_status
from .writes import Unchanged, notify_changed, write_incident

RESOLVED_MESSAGE = "Incident resolved"


def update_incident(
    incident_id: str,
    *,
    title: Any = UNSET,
    description: Any = UNSET,
    severity: Any = UNSET,
    suppress_notifications: Any = UNSET,
    health_override: Any = UNSET,
    system_ids: Any = UNSET,
    visibility: Any = UNSET,
    status: Any = UNSET,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> Incident:
    errors = Errors()
    fields: dict[str, Any] = {}
    if status is not UNSET:
        errors.add(
            "status",
            "Status cannot be changed here; add a timeline update with a status_change "
            "(or resolve the incident).",
        )
    if title is not UNSET:
        fields["title"] = clean_required_text(errors, "title", title, MAX_TITLE)
    if description is not UNSET:
        fields["description"] = clean_optional_text(errors, "description", description)
    if severity is not UNSET:
        fields["severity"] = clean_choice(errors, "severity", severity, Severity.values)
    if suppress_notifications is not UNSET:
        fields["suppress_notifications"] = clean_bool(
            errors, "suppress_notifications", suppress_notifications
        )
    if health_override is not UNSET:
        fields["health_override"] = clean_health_override(errors, health_override)
    if visibility is not UNSET:
        fields["visibility"] = clean_visibility(errors, visibility)
    ids: list[str] | None = None
    if system_ids is not UNSET:
        ids = clean_system_ids(errors, system_ids)
    errors.raise_if_any()

    def change(incident: Incident, now: Any) -> Incident:
        if ids is not None:
            check_systems_exist(ids)
        for field, value in fields.items():
            setattr(incident, field, value)
        incident.updated_at = now
        incident.save()
        if ids is not None:
            IncidentSystem.objects.filter(incident_id=incident.pk).exclude(
                system_id__in=ids
            ).delete()
            IncidentSystem.objects.bulk_create(
                [IncidentSystem(incident_id=incident.pk, system_id=s) for s in ids],
                ignore_conflicts=True,
            )
        return incident

    return write_incident(str(incident_id), change, actor=to_actor(actor), run_id=run_id)  # type: ignore[no-any-return]


def resolve_incident(
    incident_id: str,
    *,
    message: str | None = None,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> Incident:
    """Resolve with a timeline update; an already resolved incident is left as it is."""
    errors = Errors()
    message = clean_optional_text(errors, "message", message)
    errors.raise_if_any()

    def change(incident: Incident, now: Any) -> Any:
        if incident.status == Status.RESOLVED:
            return Unchanged(incident)
        IncidentUpdate.objects.create(
            incident_id=incident.pk,
            message=message or RESOLVED_MESSAGE,
            status_change=Status.RESOLVED,
            visibility=Visibility.PUBLIC,
            created_at=now,
            created_by=user_of(actor),
        )
        set_status(incident, Status.RESOLVED, now)
        incident.updated_at = now
        incident.save()
        return incident

    return write_incident(str(incident_id), change, actor=to_actor(actor), run_id=run_id)  # type: ignore[no-any-return]


def delete_incident(
    incident_id: str, *, actor: ActorLike = None, run_id: str | None = None
) -> None:
    actor_data = to_actor(actor)
    states: dict[str, Any] = {}

    def apply(prev: IncidentState | None) -> None:
        if prev is None:
            raise NotFound(f"Incident {incident_id} not found")
        states["prev"] = prev
        Incident.objects.filter(pk=incident_id).delete()

    with transaction.atomic():
        incident_handle().remove(str(incident_id), apply, actor=actor_data, run_id=run_id)
        notify_changed(str(incident_id), states["prev"], None, actor_data)
