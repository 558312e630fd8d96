"""The ``incident`` entity: state ``{status, severity, systemIds}``, deriver and payload; and the
``incident-update`` entity (one timeline update: ``{incidentId, visibility, statusChange}``), so
that whoever reacts to published updates (the status page's subscribers) gets a durable change
even when an update changes nothing of its incident."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field

from checkstack.entities import EntityChange, define_entity, register_change_deriver
from checkstack.entities.handle import EntityHandle
from checkstack.entities.registry import get_handle
from checkstack.entities.sql import LinkedRowsRead

from .choices import Severity, Status, Visibility

KIND = "incident"
UPDATE_KIND = "incident-update"


class IncidentState(BaseModel):
    status: Status
    severity: Severity
    systemIds: list[str] = Field(default_factory=list)


# One query (rows with their sorted system ids); none for an empty id list.
read_incidents = LinkedRowsRead(
    "incidents.Incident",
    ("status", "severity"),
    "incidents.IncidentSystem",
    "incident",
    "system_id",
    linked_as="systemIds",
    whole_rows=True,  # the write's apply takes the locked row from it (write_incident)
)


def derive_incident_events(change: EntityChange) -> list[str]:
    if change.prev is None:
        return ["incident.created"]
    if change.next is None:
        return []  # there is no incident.deleted trigger
    if (
        change.next.get("status") == Status.RESOLVED
        and change.prev.get("status") != Status.RESOLVED
    ):
        return ["incident.resolved"]
    return ["incident.updated"]


def incident_payload(change: EntityChange) -> dict[str, Any]:
    state = change.next or change.prev or {}
    payload: dict[str, Any] = {
        "incidentId": change.entity_id,
        "systemIds": list((change.next or {}).get("systemIds") or []),
        "severity": state.get("severity"),
        "status": state.get("status"),
    }
    if "status" in change.changed_fields:
        payload["statusChange"] = state.get("status")
    payload.update(_descriptive_fields(change.entity_id))
    return payload


# The incident rows the current write saved, by id (see ``saved_rows``).
_saved: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "incident_saved_rows", default=None
)


@contextlib.contextmanager
def saved_rows() -> Iterator[dict[str, Any]]:
    """Within the block, a service that saved an incident row puts the instance it saved in
    the yielded dict (by id); the payload of that incident's change then takes the descriptive
    fields from it (they are what the row holds in this transaction) instead of reading them."""
    rows: dict[str, Any] = {}
    token = _saved.set(rows)
    try:
        yield rows
    finally:
        _saved.reset(token)


def _descriptive_fields(incident_id: str) -> dict[str, Any]:
    """Title, description and timestamps for filters and templates (not part of the state,
    so they are read here, in the write's transaction, unless the write saved the row itself;
    absent after a delete)."""
    from .models import Incident

    saved = (_saved.get() or {}).get(incident_id)
    row = (
        {f: getattr(saved, f) for f in ("title", "description", "created_at", "resolved_at")}
        if saved is not None
        else Incident.objects.filter(pk=incident_id)
        .values("title", "description", "created_at", "resolved_at")
        .first()
    )
    if row is None:
        return {}
    fields: dict[str, Any] = {"title": row["title"], "description": row["description"]}
    fields["createdAt"] = row["created_at"].isoformat() if row["created_at"] else None
    fields["resolvedAt"] = row["resolved_at"].isoformat() if row["resolved_at"] else None
    return fields


class IncidentUpdateState(BaseModel):
    """What reacting to a timeline update needs; its text is not state (editing it notifies
    nobody)."""

    incidentId: str
    visibility: Visibility
    statusChange: Status | None = None


def read_incident_updates(ids: list[str]) -> dict[str, dict[str, Any]]:
    from .models import IncidentUpdate

    rows = IncidentUpdate.objects.filter(pk__in=ids).values_list(
        "id", "incident_id", "visibility", "status_change"
    )
    return {
        pk: {"incidentId": incident_id, "visibility": visibility, "statusChange": status_change}
        for pk, incident_id, visibility, status_change in rows
    }


def incident_handle() -> EntityHandle[IncidentState]:
    return get_handle(KIND)  # type: ignore[return-value]


def incident_update_handle() -> EntityHandle[IncidentUpdateState]:
    return get_handle(UPDATE_KIND)  # type: ignore[return-value]


def register() -> None:
    define_entity(kind=KIND, state=IncidentState, read=read_incidents)
    # No triggers: the kind exists for durable subscribers (on_entity_changed with a WorkQueue).
    define_entity(kind=UPDATE_KIND, state=IncidentUpdateState, read=read_incident_updates)
    register_change_deriver(
        KIND,
        derive_incident_events,
        incident_payload,
        emits=("incident.created", "incident.updated", "incident.resolved"),
    )
