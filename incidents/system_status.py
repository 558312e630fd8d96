"""The ``incidents`` source of system statuses: what open incidents say about their systems.

An open incident's health override decides when it has one (unhealthy: major outage,
degraded: degraded performance), else its severity (minor: degraded performance, major:
partial outage, critical: major outage). Only incidents the readers may see count.
"""

from __future__ import annotations

from collections.abc import Collection

from checkstack.system_status import SystemStatus, register_status_source, worst

from .choices import HealthOverride, Severity, Status
from .models import IncidentSystem

BY_HEALTH_OVERRIDE: dict[str | None, SystemStatus] = {
    HealthOverride.UNHEALTHY: SystemStatus.MAJOR_OUTAGE,
    HealthOverride.DEGRADED: SystemStatus.DEGRADED_PERFORMANCE,
}
BY_SEVERITY: dict[str, SystemStatus] = {
    Severity.MINOR: SystemStatus.DEGRADED_PERFORMANCE,
    Severity.MAJOR: SystemStatus.PARTIAL_OUTAGE,
    Severity.CRITICAL: SystemStatus.MAJOR_OUTAGE,
}


def incident_statuses(
    system_ids: Collection[str] | None, visibilities: frozenset[str]
) -> dict[str, SystemStatus]:
    """The worst status open incidents of ``visibilities`` give each system; one query."""
    links = IncidentSystem.objects.exclude(incident__status=Status.RESOLVED).filter(
        incident__visibility__in=sorted(visibilities)
    )
    if system_ids is not None:
        links = links.filter(system_id__in=list(system_ids))
    statuses: dict[str, SystemStatus] = {}
    rows = links.values_list("system_id", "incident__severity", "incident__health_override")
    for system_id, severity, override in rows.distinct():
        status = BY_HEALTH_OVERRIDE.get(override) or BY_SEVERITY[severity]
        statuses[system_id] = worst((statuses.get(system_id, status), status))
    return statuses


def register() -> None:
    register_status_source("incidents", incident_statuses)
