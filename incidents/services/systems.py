"""What active incidents mean for given systems: which ones, suppression, health overrides."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from ..choices import Status
from ..models import Incident, IncidentSystem
from .queries import list_incidents


def active_incidents_for_system(system_id: str) -> QuerySet[Incident]:
    return list_incidents(system_id=system_id)


def active_incidents_by_system(system_ids: Iterable[str]) -> dict[str, list[Incident]]:
    ids = list(dict.fromkeys(system_ids))
    grouped: dict[str, list[Incident]] = {i: [] for i in ids}
    links = (
        IncidentSystem.objects.filter(system_id__in=ids)
        .exclude(incident__status=Status.RESOLVED)
        .select_related("incident")
        .order_by("incident__created_at", "incident_id")
    )
    for link in links:
        grouped[link.system_id].append(link.incident)
    return grouped


def has_active_incident_with_suppression(system_id: str) -> bool:
    return (
        Incident.objects.filter(systems__system_id=system_id, suppress_notifications=True)
        .exclude(status=Status.RESOLVED)
        .exists()
    )


def get_active_health_overrides(
    system_ids: Iterable[str],
) -> dict[str, list[dict[str, str | None]]]:
    """``{system_id: [{status, incident_id, incident_title}]}`` for active incidents with one."""
    ids = list(dict.fromkeys(system_ids))
    overrides: dict[str, list[dict[str, str | None]]] = {}
    rows = (
        IncidentSystem.objects.filter(system_id__in=ids, incident__health_override__isnull=False)
        .exclude(incident__status=Status.RESOLVED)
        .order_by("system_id", "incident__created_at", "incident_id")
        .values_list("system_id", "incident__health_override", "incident_id", "incident__title")
    )
    for system_id, override, incident_id, title in rows:
        overrides.setdefault(system_id, []).append(
            {"status": override, "incident_id": incident_id, "incident_title": title}
        )
    return overrides
