"""Reading maintenances as an audience sees them: the API's list, one maintenance, and what the
status page shows (running and upcoming)."""

from __future__ import annotations

from collections.abc import Collection

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from checkstack.errors import NotFound
from statuspage.models import Maintenance, MaintenanceSystem, MaintenanceUpdate

from ..choices import MaintenanceStatus

ORDERINGS = (
    "starts_at",
    "-starts_at",
    "ends_at",
    "-ends_at",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
)
DEFAULT_ORDERING = "-starts_at"


def visible_maintenances(visibilities: Collection[str]) -> QuerySet[Maintenance]:
    """Maintenances of ``visibilities``, with their systems and the updates of those
    visibilities prefetched (created_at ascending)."""
    visible = sorted(visibilities)
    return Maintenance.objects.filter(visibility__in=visible).prefetch_related(
        Prefetch("systems", queryset=MaintenanceSystem.objects.order_by("system_id")),
        Prefetch(
            "updates",
            queryset=MaintenanceUpdate.objects.filter(visibility__in=visible)
            .select_related("created_by")
            .order_by("created_at", "id"),
        ),
    )


def list_maintenances(
    *,
    visibilities: Collection[str],
    status: str | None = None,
    system_id: str | None = None,
    visibility: str | None = None,
    ordering: str = DEFAULT_ORDERING,
) -> QuerySet[Maintenance]:
    maintenances = visible_maintenances(visibilities)
    if status:
        maintenances = maintenances.filter(status=status)
    if system_id:
        maintenances = maintenances.filter(systems__system_id=system_id)
    if visibility:
        maintenances = maintenances.filter(visibility=visibility)
    if ordering not in ORDERINGS:
        raise ValidationError({"ordering": [f"Use one of: {', '.join(ORDERINGS)}."]})
    return maintenances.order_by(ordering, "id")


def active_and_upcoming(visibilities: Collection[str]) -> list[Maintenance]:
    """In progress, and scheduled ones that have not ended, ordered by ``starts_at``."""
    running_or_ahead = Q(status=MaintenanceStatus.IN_PROGRESS) | Q(
        status=MaintenanceStatus.SCHEDULED, ends_at__gt=timezone.now()
    )
    return list(
        visible_maintenances(visibilities).filter(running_or_ahead).order_by("starts_at", "id")
    )


def get_maintenance(maintenance_id: str, *, visibilities: Collection[str]) -> Maintenance:
    """One maintenance as ``visibilities`` see it; one they may not see is not found."""
    maintenance = visible_maintenances(visibilities).filter(pk=maintenance_id).first()
    if maintenance is None:
        raise NotFound(f"Maintenance {maintenance_id} not found")
    return maintenance
