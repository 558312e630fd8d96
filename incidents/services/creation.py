"""Creating incidents: one from its fields, or the active one of a system reused (dedupe)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from checkstack.actors import ActorLike, to_actor, user_of
from checkstack.entities import advisory_lock
from checkstack.validation import Errors, clean_choice, clean_optional_text, clean_required_text

from ..choices import Severity, Status, Visibility
from ..entity import IncidentState, incident_handle, saved_rows
from ..models import Incident, IncidentSystem, IncidentUpdate
from .fields import (
    MAX_TITLE,
    check_systems_exist,
    clean_bool,
    clean_health_override,
    clean_system_ids,
    clean_visibility,
)
from .writes import notify_changed, remember_written


def create_incident(
    *,
    title: str,
    system_ids: Iterable[str],
    severity: str = Severity.MAJOR,
    description: str | None = None,
    initial_message: str | None = None,
    suppress_notifications: bool = False,
    health_override: str | None = None,
    visibility: str = Visibility.PUBLIC,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> Incident:
    """A new incident (``detail_of`` shows it with its systems and initial update without
    reading them again)."""
    errors = Errors()
    title = clean_required_text(errors, "title", title, MAX_TITLE)
    severity = clean_choice(errors, "severity", severity, Severity.values)
    ids = clean_system_ids(errors, list(system_ids) if system_ids is not None else None)
    description = clean_optional_text(errors, "description", description)
    initial_message = clean_optional_text(errors, "initial_message", initial_message)
    suppress_notifications = clean_bool(errors, "suppress_notifications", suppress_notifications)
    health_override = clean_health_override(errors, health_override)
    visibility = clean_visibility(errors, visibility)
    errors.raise_if_any()

    actor_data = to_actor(actor)
    incident = Incident(
        title=title,
        description=description,
        severity=severity,
        suppress_notifications=suppress_notifications,
        health_override=health_override,
        visibility=visibility,
    )

    def apply(prev: IncidentState | None) -> None:
        check_systems_exist(ids)
        incident.save(force_insert=True)
        systems = IncidentSystem.objects.bulk_create(
            [IncidentSystem(incident_id=incident.pk, system_id=s) for s in ids]
        )
        updates = []
        if initial_message is not None:
            updates.append(
                IncidentUpdate.objects.create(
                    incident_id=incident.pk,
                    message=initial_message,
                    status_change=Status.INVESTIGATING,
                    visibility=Visibility.PUBLIC,
                    created_at=incident.created_at,
                    created_by=user_of(actor),
                )
            )
        remember_written(incident, systems=systems, updates=updates, links=[])
        saved[incident.pk] = incident

    with saved_rows() as saved:
        next_ = incident_handle().create(incident.pk, apply, actor=actor_data, run_id=run_id)
    notify_changed(incident.pk, None, next_, actor_data)
    return incident


def create_deduped_for_system(
    system_id: str, *, actor: ActorLike = None, run_id: str | None = None, **fields: Any
) -> tuple[Incident, bool]:
    """The active incident linked to ``system_id`` (reused=True), or a new one.

    Serialized per system by an advisory lock, so concurrent calls create one incident.
    """
    with transaction.atomic(), advisory_lock(f"incident.dedupe-open-for-system:{system_id}"):
        existing = (
            Incident.objects.filter(systems__system_id=system_id)
            .exclude(status=Status.RESOLVED)
            .order_by("created_at", "id")
            .first()
        )
        if existing is not None:
            return existing, True
        system_ids = list(fields.pop("system_ids", None) or [system_id])
        if system_id not in system_ids:
            system_ids.insert(0, system_id)
        incident = create_incident(system_ids=system_ids, actor=actor, run_id=run_id, **fields)
        return incident, False
