"""Reading incidents: the filtered, ordered list, and one incident as an audience sees it."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    F,
    IntegerField,
    Prefetch,
    QuerySet,
    Value,
    When,
    prefetch_related_objects,
)

from checkstack.errors import NotFound

from ..choices import Severity, Status, Visibility
from ..entity import IncidentState, incident_handle
from ..models import Incident, IncidentLink, IncidentSystem, IncidentUpdate
from .writes import WRITTEN_RELATIONS as _WRITTEN

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
    if ordering not in ORDERINGS:
        raise ValidationError({"ordering": [f"Use one of: {', '.join(ORDERINGS)}."]})
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
        if status or include_resolved:
            incidents = incidents.filter(systems__system_id=system_id)
        else:  # the same join: the system's active links (``incidents_system_active_idx``)
            incidents = incidents.filter(
                systems__system_id=system_id, systems__incident_active=True
            )
        if ordering.lstrip("-") == "updated_at":
            # The same order by the link row's copy of updated_at (migration 0003), which
            # ``incidents_system_sort_idx`` holds per system: a page reads only its rows.
            incidents = incidents.annotate(system_updated_at=F("systems__incident_updated_at"))
            ordering = ordering.replace("updated_at", "system_updated_at")
    if severity:
        incidents = incidents.filter(severity=severity)
    if search and search.strip():
        incidents = incidents.filter(title__icontains=search.strip())
    if ordering.lstrip("-") == "severity":
        # By rank (minor < major < critical), not alphabetically.
        incidents = incidents.annotate(severity_rank=SEVERITY_RANK)
        ordering = ordering.replace("severity", "severity_rank")
    return incidents.order_by(ordering, "id")


def _detail_prefetches(audience: Audience) -> dict[str, Prefetch]:
    """What the detail of an incident shows: its systems, the updates (with their authors) and
    links ``audience`` may see, oldest first."""
    visible = sorted(audience.visibilities)
    return {
        "systems": Prefetch("systems", queryset=IncidentSystem.objects.order_by("system_id")),
        "updates": Prefetch(
            "updates",
            queryset=IncidentUpdate.objects.filter(visibility__in=visible)
            .select_related("created_by")
            .order_by("created_at", "id"),
        ),
        "links": Prefetch(
            "links",
            queryset=IncidentLink.objects.filter(visibility__in=visible).order_by(
                "created_at", "id"
            ),
        ),
    }


def get_incident(incident_id: str, *, audience: Audience = Audience.MANAGER) -> Incident:
    """The incident with its systems, and the updates and links ``audience`` may see.

    An incident the audience may not see is not found, as if it did not exist."""
    incident = (
        Incident.objects.prefetch_related(*_detail_prefetches(audience).values())
        .filter(pk=incident_id, visibility__in=sorted(audience.visibilities))
        .first()
    )
    if incident is None:
        raise NotFound(f"Incident {incident_id} not found")
    return incident


def detail_of(incident: Incident, *, audience: Audience) -> Incident:
    """``get_incident`` for the instance a write has just saved and returned: the related rows
    the write left with it (``remember_written``) are filtered for ``audience``, the others are
    read; the row itself is not read again."""
    if incident.visibility not in audience.visibilities:
        raise NotFound(f"Incident {incident.pk} not found")
    written: dict[str, list[Any]] = incident.__dict__.pop(_WRITTEN, {})
    missing = []
    for name, prefetch in _detail_prefetches(audience).items():
        if name not in written:
            missing.append(prefetch)
            continue
        rows = written[name]
        if name != "systems":
            rows = [row for row in rows if row.visibility in audience.visibilities]
        _set_prefetched(incident, name, rows)
    prefetch_related_objects([incident], *missing)
    return incident


def _set_prefetched(incident: Incident, name: str, rows: list[Any]) -> None:
    """``rows`` as the prefetched ``name`` relation of ``incident`` (what
    ``prefetch_related_objects`` stores)."""
    queryset = getattr(incident, name).all()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    incident.__dict__.setdefault("_prefetched_objects_cache", {})[name] = queryset


def get_many_entity_states(ids: Iterable[str]) -> dict[str, IncidentState]:
    return incident_handle().get_many(ids)
