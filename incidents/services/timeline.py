"""An incident's timeline: adding, editing and deleting updates, and the status they set.

Each update is also an ``incident-update`` entity, written through its handle inside the
incident's write (incident lock first, then the update's), so that adding, re-publishing or
deleting an update is a logged change even when the incident itself does not change."""

from __future__ import annotations

from typing import Any

from checkstack.actors import ActorLike, to_actor, user_of
from checkstack.errors import NotFound
from checkstack.validation import UNSET, Errors, clean_choice, clean_required_text

from ..choices import Status, Visibility
from ..entity import incident_update_handle
from ..models import Incident, IncidentUpdate, new_id
from .writes import Unchanged, write_incident

MAX_MESSAGE = 100_000


def set_status(incident: Incident, status: str, now: Any) -> None:
    """Set ``status``; ``resolved_at`` is stamped on resolving and cleared on reopening."""
    if status == Status.RESOLVED and incident.status != Status.RESOLVED:
        incident.resolved_at = now
    elif status != Status.RESOLVED:
        incident.resolved_at = None
    incident.status = status


def rederive_status(incident: Incident, now: Any) -> None:
    """Status of the newest status-bearing update (created_at desc, id desc); none → unchanged."""
    newest = (
        IncidentUpdate.objects.filter(incident_id=incident.pk, status_change__isnull=False)
        .order_by("-created_at", "-id")
        .values_list("status_change", flat=True)
        .first()
    )
    if newest is not None:
        set_status(incident, newest, now)


def add_update(
    incident_id: str,
    *,
    message: str,
    status_change: str | None = None,
    visibility: str = Visibility.PUBLIC,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> IncidentUpdate:
    errors = Errors()
    message = clean_required_text(errors, "message", message, max_length=MAX_MESSAGE)
    if status_change is not None:
        status_change = clean_choice(errors, "status_change", status_change, Status.values)
    visibility = clean_choice(errors, "visibility", visibility, Visibility.values)
    errors.raise_if_any()
    actor_data = to_actor(actor)

    def change(incident: Incident, now: Any) -> IncidentUpdate:
        update = IncidentUpdate(
            id=new_id(),
            incident_id=incident.pk,
            message=message,
            status_change=status_change,
            visibility=visibility,
            created_at=now,
            created_by=user_of(actor),
        )
        incident_update_handle().create(
            update.pk, lambda prev: update.save(force_insert=True), actor=actor_data, run_id=run_id
        )
        if status_change is not None:
            set_status(incident, status_change, now)
        incident.updated_at = now
        incident.save()
        return update

    return write_incident(str(incident_id), change, actor=actor_data, run_id=run_id)  # type: ignore[no-any-return]


def _get_update(incident_id: str, update_id: str) -> IncidentUpdate:
    update = IncidentUpdate.objects.filter(pk=update_id, incident_id=incident_id).first()
    if update is None:
        raise NotFound(f"Update {update_id} of incident {incident_id} not found")
    return update


def edit_update(
    incident_id: str,
    update_id: str,
    *,
    message: Any = UNSET,
    status_change: Any = UNSET,
    visibility: Any = UNSET,
    created_at: Any = UNSET,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> IncidentUpdate:
    """Edit the provided fields that really differ; history keeps the pre-edit values."""
    errors = Errors()
    wanted: dict[str, Any] = {}
    if message is not UNSET:
        wanted["message"] = clean_required_text(errors, "message", message, max_length=MAX_MESSAGE)
    if status_change is not UNSET and status_change is not None:
        wanted["status_change"] = clean_choice(
            errors, "status_change", status_change, Status.values
        )
    elif status_change is None:
        wanted["status_change"] = None
    if visibility is not UNSET:
        wanted["visibility"] = clean_choice(errors, "visibility", visibility, Visibility.values)
    if created_at is not UNSET:
        if not hasattr(created_at, "tzinfo") or created_at.tzinfo is None:
            errors.add("created_at", "Must be a timezone-aware date and time.")
        else:
            wanted["created_at"] = created_at
    errors.raise_if_any()
    if not wanted:
        return _get_update(incident_id, update_id)
    actor_data = to_actor(actor)

    def change(incident: Incident, now: Any) -> IncidentUpdate | Unchanged:
        update = _get_update(incident.pk, update_id)
        differing = {f: v for f, v in wanted.items() if getattr(update, f) != v}
        if not differing:
            return Unchanged(update)
        update.edit_history = [
            *update.edit_history,
            {
                "message": update.message,
                "status_change": update.status_change,
                "visibility": update.visibility,
                "created_at": update.created_at.isoformat(),
                "edited_at": update.edited_at.isoformat() if update.edited_at else None,
            },
        ]
        for field, value in differing.items():
            setattr(update, field, value)
        update.edited_at = now
        incident_update_handle().mutate(
            update.pk, lambda prev: update.save(), actor=actor_data, run_id=run_id
        )
        if "status_change" in wanted or "created_at" in differing:
            rederive_status(incident, now)
        incident.updated_at = now
        incident.save()
        return update

    return write_incident(str(incident_id), change, actor=actor_data, run_id=run_id)  # type: ignore[no-any-return]


def delete_update(
    incident_id: str, update_id: str, *, actor: ActorLike = None, run_id: str | None = None
) -> None:
    actor_data = to_actor(actor)

    def change(incident: Incident, now: Any) -> None:
        update = _get_update(incident.pk, update_id)
        had_status = update.status_change is not None
        incident_update_handle().remove(
            update.pk, lambda prev: update.delete(), actor=actor_data, run_id=run_id
        )
        if had_status:
            rederive_status(incident, now)
        incident.updated_at = now
        incident.save()

    write_incident(str(incident_id), change, actor=actor_data, run_id=run_id)
