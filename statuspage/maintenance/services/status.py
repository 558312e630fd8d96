"""What running maintenance means for systems: the ``maintenance`` source of system statuses."""

from __future__ import annotations

from collections.abc import Collection

from checkstack.system_status import SystemStatus
from statuspage.models import MaintenanceSystem

from ..choices import MaintenanceStatus


def systems_under_maintenance(
    system_ids: Collection[str] | None, visibilities: frozenset[str]
) -> dict[str, SystemStatus]:
    """``under_maintenance`` for each system (of ``system_ids``, or any) that an in-progress
    maintenance of ``visibilities`` covers; one query."""
    links = MaintenanceSystem.objects.filter(
        maintenance__status=MaintenanceStatus.IN_PROGRESS,
        maintenance__visibility__in=sorted(visibilities),
    )
    if system_ids is not None:
        links = links.filter(system_id__in=list(system_ids))
    return {
        system_id: SystemStatus.UNDER_MAINTENANCE
        for system_id in links.values_list("system_id", flat=True).distinct()
    }
