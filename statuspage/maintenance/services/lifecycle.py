"""Changing a maintenance's own fields and systems, and deleting it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from checkstack.actors import ActorLike, to_actor
from checkstack.errors import Conflict, NotFound
from checkstack.validation import (
    UNSET,
    Errors,
    clean_choice,
    clean_optional_text,
    clean_required_text,
)
from incidents.choices import Visibility
from statuspage.models import Maintenance, MaintenanceSystem

from ..choices import MaintenanceStatus
from ..entity import MaintenanceState, maintenance_handle
from .fields import MAX_TITLE, check_systems_exist, check_window, clean_moment, clean_system_ids
from .transitions import FINISHED
from .writes import write_maintenance

STATUS_MESSAGE = (
    "Status cannot be changed here; start, complete or cancel the maintenance (or add a "
    "timeline update with a status_change)."
)


def update_maintenance(
    maintenance_id: str,
    *,
    title: Any = UNSET,
    description: Any = UNSET,
    system_ids: Any = UNSET,
    starts_at: Any = UNSET,
    ends_at: Any = UNSET,
    visibility: Any = UNSET,
    status: Any = UNSET,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> Maintenance:
    """Change the given fields. A started maintenance keeps its start, a finished one its whole
    window and systems (``Conflict``); the window must still end after it starts."""
    errors = Errors()
    fields: dict[str, Any] = {}
    if status is not UNSET:
        errors.add("status", STATUS_MESSAGE)
    if title is not UNSET:
        fields["title"] = clean_required_text(errors, "title", title, MAX_TITLE)
    if description is not UNSET:
        fields["description"] = clean_optional_text(errors, "description", description) or ""
    if visibility is not UNSET:
        fields["visibility"] = clean_choice(errors, "visibility", visibility, Visibility.values)
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is not UNSET:
            fields[name] = clean_moment(errors, name, value)
    ids = clean_system_ids(errors, system_ids) if system_ids is not UNSET else None
    errors.raise_if_any()

    def change(maintenance: Maintenance, now: dt.datetime) -> Maintenance:
        check_schedule_change(maintenance, fields, ids)
        check_window(
            fields.get("starts_at", maintenance.starts_at),
            fields.get("ends_at", maintenance.ends_at),
        )
        for name, value in fields.items():
            setattr(maintenance, name, value)
        maintenance.updated_at = now
        maintenance.save()
        if ids is not None:
            links = MaintenanceSystem.objects.filter(maintenance=maintenance)
            links.exclude(system_id__in=ids).delete()
            MaintenanceSystem.objects.bulk_create(
                [MaintenanceSystem(maintenance=maintenance, system_id=s) for s in ids],
                ignore_conflicts=True,
            )
        return maintenance

    with transaction.atomic():
        if ids is not None:
            check_systems_exist(ids)
        return write_maintenance(maintenance_id, change, actor=actor, run_id=run_id)  # type: ignore[no-any-return]


def check_schedule_change(
    maintenance: Maintenance, fields: dict[str, Any], system_ids: list[str] | None
) -> None:
    """What the maintenance's status still lets change (``Conflict`` otherwise)."""
    moving_start = "starts_at" in fields and fields["starts_at"] != maintenance.starts_at
    moving_end = "ends_at" in fields and fields["ends_at"] != maintenance.ends_at
    current = sorted(s.system_id for s in maintenance.systems.all())
    changing_systems = system_ids is not None and system_ids != current
    if maintenance.status in FINISHED and (moving_start or moving_end or changing_systems):
        raise Conflict(
            f"Maintenance {maintenance.pk} is {maintenance.status}: its window and systems "
            "can no longer change."
        )
    if maintenance.status == MaintenanceStatus.IN_PROGRESS and moving_start:
        raise Conflict(f"Maintenance {maintenance.pk} has started: its start can no longer move.")


def delete_maintenance(
    maintenance_id: str, *, actor: ActorLike = None, run_id: str | None = None
) -> None:
    """Delete the maintenance and its timeline (logged as the entity's tombstone)."""

    def apply(prev: MaintenanceState | None) -> None:
        if prev is None:
            raise NotFound(f"Maintenance {maintenance_id} not found")
        Maintenance.objects.filter(pk=maintenance_id).delete()

    maintenance_handle().remove(str(maintenance_id), apply, actor=to_actor(actor), run_id=run_id)
