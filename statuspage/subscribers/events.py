"""Which entity changes subscribers hear about, as ``NotificationEvent``s.

Only what the public may see: a public incident (not created with ``suppress_notifications``)
when it is created, resolved, or gets a public timeline update; a public maintenance when it
is scheduled, starts, completes or is cancelled. The current rows are read (in the worker, just
after the change committed), so an item made internal or deleted meanwhile tells nobody.

Each event has a key unique to it. Resolving an incident through a timeline update changes the
incident and the update: both changes map to the same ``incident:<id>:resolved:<time>`` key, so
subscribers get one "resolved" mail, not two.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from checkstack.entities import EntityChange
from checkstack.errors import NotFound
from incidents.choices import Status, Visibility
from incidents.entity import derive_incident_events
from incidents.models import Incident
from incidents.services import Audience, get_incident
from statuspage.maintenance.entity import derive_maintenance_events
from statuspage.maintenance.services import get_maintenance

from .choices import Event

PUBLIC = frozenset({Visibility.PUBLIC.value})
INCIDENT = "incident"
MAINTENANCE = "maintenance"
MAINTENANCE_EVENTS = frozenset(
    {
        Event.MAINTENANCE_SCHEDULED,
        Event.MAINTENANCE_STARTED,
        Event.MAINTENANCE_COMPLETED,
        Event.MAINTENANCE_CANCELLED,
    }
)


@dataclasses.dataclass(frozen=True)
class NotificationEvent:
    event: Event
    key: str
    subject_type: str
    subject_id: str
    system_ids: tuple[str, ...]
    update_id: str | None = None


def _public_incident(incident_id: str) -> Incident | None:
    """The incident with its public updates, if the public sees it and it notifies."""
    try:
        incident = get_incident(incident_id, audience=Audience.PUBLIC)
    except NotFound:
        return None
    return None if incident.suppress_notifications else incident


def _system_ids(subject: object) -> tuple[str, ...]:
    return tuple(s.system_id for s in subject.systems.all())  # type: ignore[attr-defined]


def _resolution(incident: Incident) -> NotificationEvent:
    at = incident.resolved_at.astimezone(dt.UTC).isoformat()  # type: ignore[union-attr]
    return NotificationEvent(
        Event.INCIDENT_RESOLVED,
        f"incident:{incident.pk}:resolved:{at}",
        INCIDENT,
        incident.pk,
        _system_ids(incident),
    )


def incident_event(change: EntityChange) -> NotificationEvent | None:
    """``incident`` kind: created, resolved (while it still is)."""
    triggers = derive_incident_events(change)
    if Event.INCIDENT_CREATED not in triggers and Event.INCIDENT_RESOLVED not in triggers:
        return None
    incident = _public_incident(change.entity_id)
    if incident is None:
        return None
    if Event.INCIDENT_CREATED in triggers:
        key = f"incident:{incident.pk}:created"
        return NotificationEvent(
            Event.INCIDENT_CREATED, key, INCIDENT, incident.pk, _system_ids(incident)
        )
    if incident.status != Status.RESOLVED or incident.resolved_at is None:
        return None  # reopened meanwhile
    return _resolution(incident)


def incident_update_event(change: EntityChange) -> NotificationEvent | None:
    """``incident-update`` kind: an update that became public (added so, or re-published)."""
    state, prev = change.next, change.prev
    if state is None or state.get("visibility") != Visibility.PUBLIC:
        return None
    if prev is not None and prev.get("visibility") == Visibility.PUBLIC:
        return None  # was public already: its publication was told
    incident = _public_incident(str(state.get("incidentId")))
    if incident is None:
        return None
    update = next((u for u in incident.updates.all() if u.pk == change.entity_id), None)
    if update is None:
        return None
    if (
        update.status_change == Status.RESOLVED
        and incident.status == Status.RESOLVED
        and incident.resolved_at == update.created_at
    ):
        return _resolution(incident)
    return NotificationEvent(
        Event.INCIDENT_UPDATED,
        f"incident-update:{update.pk}",
        INCIDENT,
        incident.pk,
        _system_ids(incident),
        update_id=update.pk,
    )


def maintenance_event(change: EntityChange) -> NotificationEvent | None:
    """``maintenance`` kind: scheduled, started, completed, cancelled."""
    triggers = [t for t in derive_maintenance_events(change) if t in MAINTENANCE_EVENTS]
    if not triggers:
        return None
    try:
        maintenance = get_maintenance(change.entity_id, visibilities=PUBLIC)
    except NotFound:
        return None
    event = Event(triggers[0])
    return NotificationEvent(
        event,
        f"maintenance:{maintenance.pk}:{event.value.split('.', 1)[1]}",
        MAINTENANCE,
        maintenance.pk,
        _system_ids(maintenance),
    )
