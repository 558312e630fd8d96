"""Reading incidents: the filtered, ordered list, and one incident as an audience sees it."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When

from checkstack.errors import NotFound

from ..choices import Severity, Status, Visibility
from ..entity import IncidentState, incident_handle
from ..models import Incident, IncidentLink, IncidentSystem, IncidentUpdate

ORDERINGS = ("created_at", "-created_at", "updated_at", "-updated_at", "severity", "-severity")
SEVERITY_RANK = Case(
    *(When(severity=value, then=Value(rank)) for rank, value in enumerate(Severity.values)),
    output_field=IntegerField(),
)


class Audience(StrEnum):
    """Who reads: decides which incidents, updates and links are visible."""

    PUBLIC = "public"
    LOGGED_IN = "logged_in"
    MANAGER = "manager"

    @property
    def visibilities(self) -> frozenset[str]:
        if self is Audience.PUBLIC:
            return frozenset({Visibility.PUBLIC})
        if self is Audience.LOGGED_IN:
            return frozenset({Visibility.PUBLIC, Visibility.LOGGED_IN})
        return frozenset(Visibility.values)


def list_incidents(
    *,
    status: str | None = None,
    include_resolved: bool = False,
    system_id: str | None = None,
    severity: str | None = None,
    search: str | None = None,
    ordering: str = "-updated_at",
    visibilities: Iterable[str] | None = None,
) -> QuerySet[Incident]:
    """Incidents matching the filters; only those of ``visibilities`` when given (an
    audience's ``visibilities``), every incident otherwise."""
    incidents = Incident.objects.prefetch_related(
        Prefetch("systems", queryset=IncidentSystem.objects.order_by("system_id"))
    )
    if visibilities is not None:
        incidents = incidents.filter(visibility__in=sorted(visibilities))
    if status:
        incidents = incidents.filter(status=status)
    elif not include_resolved:
        incidents = incidents.exclude(status=Status.RESOLVED)
    if system_id:
        incidents = incidents.filter(systems__system_id=system_id)
    if severity:
        incidents = incidents.filter(severity=severity)
    if search and search.strip():
        incidents = incidents.filter(title__icontains=search.strip())
    if ordering not in ORDERINGS:
        raise ValidationError({"ordering": [f"Use one of: {', '.join(ORDERINGS)}."]})
    if ordering.lstrip("-") == "severity":
        # By rank (minor < major < critical), not alphabetically.
        incidents = incidents.annotate(severity_rank=SEVERITY_RANK)
        ordering = ordering.replace("severity", "severity_rank")
    return incidents.order_by(ordering, "id")


def get_incident(incident_id: str, *, audience: Audience = Audience.MANAGER) -> Incident:
    """The incident with its systems, and the updates and links ``audience`` may see.

    An incident the audience may not see is not found, as if it did not exist."""
    visible = sorted(audience.visibilities)
    incident = (
        Incident.objects.prefetch_related(
            Prefetch("systems", queryset=IncidentSystem.objects.order_by("system_id")),
            Prefetch(
                "updates",
                queryset=IncidentUpdate.objects.filter(visibility__in=visible)
                .select_related("created_by")
                .order_by("created_at", "id"),
            ),
            Prefetch(
                "links",
                queryset=IncidentLink.objects.filter(visibility__in=visible).order_by(
                    "created_at", "id"
                ),
            ),
        )
        .filter(pk=incident_id, visibility__in=visible)
        .first()
    )
    if incident is None:
        raise NotFound(f"Incident {incident_id} not found")
    return incident


def get_many_entity_states(ids: Iterable[str]) -> dict[str, IncidentState]:
    return incident_handle().get_many(ids)
