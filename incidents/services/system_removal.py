"""Dropping a deleted catalog system from the incidents that link it."""

from __future__ import annotations

from typing import Any

from checkstack.actors import to_actor
from checkstack.errors import NotFound

from ..models import Incident, IncidentSystem
from .writes import write_incident


def remove_system_from_incidents(system_id: str) -> list[str]:
    """Drop ``system_id`` from every incident linking it, each through the entity (system actor).

    Incidents left without systems are kept. Returns the affected incident ids.
    """
    affected = list(
        IncidentSystem.objects.filter(system_id=system_id)
        .order_by("incident_id")
        .values_list("incident_id", flat=True)
        .distinct()
    )
    for incident_id in affected:

        def change(incident: Incident, now: Any) -> None:
            IncidentSystem.objects.filter(incident_id=incident.pk, system_id=system_id).delete()
            incident.updated_at = now
            incident.save(update_fields=["updated_at"])

        try:
            write_incident(incident_id, change, actor=to_actor(None), run_id=None)
        except NotFound:
            continue  # deleted meanwhile
    return affected
