"""The ``maintenance`` entity: state ``{status, systemIds, startsAt, endsAt, visibility}``, its
deriver (scheduled / started / completed / cancelled / updated) and trigger payload."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, field_validator

from checkstack.entities import EntityChange, define_entity, register_change_deriver
from checkstack.entities.handle import EntityHandle
from checkstack.entities.registry import get_handle
from checkstack.entities.sql import LinkedRowsRead
from incidents.choices import Visibility
from statuspage.models import Maintenance

from .choices import MaintenanceStatus

KIND = "maintenance"
SCHEDULED = "maintenance.scheduled"
STARTED = "maintenance.started"
COMPLETED = "maintenance.completed"
CANCELLED = "maintenance.cancelled"
UPDATED = "maintenance.updated"
# The trigger a change to each status derives (any other change is ``maintenance.updated``).
STATUS_TRIGGERS = {
    MaintenanceStatus.IN_PROGRESS: STARTED,
    MaintenanceStatus.COMPLETED: COMPLETED,
    MaintenanceStatus.CANCELLED: CANCELLED,
}


class MaintenanceState(BaseModel):
    status: MaintenanceStatus
    systemIds: list[str] = Field(default_factory=list)
    startsAt: dt.datetime
    endsAt: dt.datetime
    visibility: Visibility

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        # SQLite hands back naive UTC times; one form for both databases, so equal windows
        # diff as equal.
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class MaintenanceRead(LinkedRowsRead):
    """Rows with their sorted system ids in one query, named as the state names them."""

    COLUMNS = {"status": "status", "starts_at": "startsAt", "ends_at": "endsAt"}

    def state(self, row: Sequence[Any]) -> dict[str, Any]:
        state = super().state(row)
        for column, name in self.COLUMNS.items():
            state[name] = state.pop(column)
        return state


read_maintenances = MaintenanceRead(
    "statuspage.Maintenance",
    ("status", "starts_at", "ends_at", "visibility"),
    "statuspage.MaintenanceSystem",
    "maintenance",
    "system_id",
    linked_as="systemIds",
)


def derive_maintenance_events(change: EntityChange) -> list[str]:
    if change.prev is None:
        return [SCHEDULED]
    if change.next is None:
        return []  # no trigger for a deleted maintenance
    status = change.next.get("status")
    if "status" in change.changed_fields and status in STATUS_TRIGGERS:
        return [STATUS_TRIGGERS[MaintenanceStatus(status)]]
    return [UPDATED]


def maintenance_payload(change: EntityChange) -> dict[str, Any]:
    state = change.next or change.prev or {}
    return {
        "maintenanceId": change.entity_id,
        "title": _title(change.entity_id),
        "systemIds": list(state.get("systemIds") or []),
        "status": state.get("status"),
        "startsAt": state.get("startsAt"),
        "endsAt": state.get("endsAt"),
        "visibility": state.get("visibility"),
    }


def _title(maintenance_id: str) -> str | None:
    """Not part of the state: read in the write's transaction (None once deleted)."""
    return Maintenance.objects.filter(pk=maintenance_id).values_list("title", flat=True).first()


def maintenance_handle() -> EntityHandle[MaintenanceState]:
    return get_handle(KIND)  # type: ignore[return-value]


def register() -> None:
    define_entity(kind=KIND, state=MaintenanceState, read=read_maintenances)
    register_change_deriver(
        KIND,
        derive_maintenance_events,
        maintenance_payload,
        emits=(SCHEDULED, STARTED, COMPLETED, CANCELLED, UPDATED),
    )
