"""Helpers shared by the incidents tests: catalog systems, incidents, change rows, events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from catalog import services as catalog
from checkstack.entities.models import Change, TriggerEvent
from incidents import services
from incidents.models import Incident, IncidentUpdate


def make_systems(*system_ids: str) -> list[str]:
    """Create catalog systems with the given slug ids (named after them)."""
    for system_id in system_ids:
        catalog.create_system(id=system_id, name=system_id.upper())
    return list(system_ids)


def make_incident(system_ids: tuple[str, ...] | list[str] = ("db",), **fields: Any) -> Incident:
    fields.setdefault("title", "Database down")
    return services.create_incident(system_ids=list(system_ids), **fields)


def changes(incident_id: str) -> list[Change]:
    return list(Change.objects.filter(kind="incident", entity_id=incident_id).order_by("seq"))


DESCRIPTIVE = ("title", "description", "createdAt", "resolvedAt")


def events(incident_id: str, *, descriptive: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """``(trigger id, payload)`` of every trigger event of the incident, in change order;
    without the descriptive fields (title, description, timestamps) unless asked for."""
    rows = TriggerEvent.objects.filter(
        change__kind="incident", change__entity_id=incident_id
    ).order_by("change__seq", "event")
    return [
        (
            row.event,
            {k: v for k, v in row.payload.items() if descriptive or k not in DESCRIPTIVE},
        )
        for row in rows
    ]


def reload(incident: Incident | str) -> Incident:
    pk = incident if isinstance(incident, str) else incident.pk
    return Incident.objects.get(pk=pk)


def age_incident(incident_id: str, hours: int = 1) -> dt.datetime:
    """Move ``updated_at`` into the past; returns the new value (so a bump is observable)."""
    past = timezone.now() - dt.timedelta(hours=hours)
    Incident.objects.filter(pk=incident_id).update(updated_at=past)
    return past


def place_update(update: IncidentUpdate, when: dt.datetime) -> IncidentUpdate:
    """Set an update's published time directly (test setup only, no re-derivation)."""
    IncidentUpdate.objects.filter(pk=update.pk).update(created_at=when)
    update.refresh_from_db()
    return update


def status_of(incident_id: str) -> str:
    return Incident.objects.values_list("status", flat=True).get(pk=incident_id)
