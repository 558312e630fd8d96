"""Reading incidents: the filtered, ordered list, and one incident as an audience sees it."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
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
    if "updates" not in written and "links" not in written:
        written = {**written, **_timeline(incident.pk, audience)}  # one query for both
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


def _timeline(incident_id: str, audience: Audience) -> dict[str, list[Any]]:
    """The updates (with their authors) and links of an incident that ``audience`` may see,
    oldest first: what ``_detail_prefetches`` reads in two queries, in one (``UNION ALL``)."""
    user_model = get_user_model()
    user_fields = [
        f
        for f in user_model._meta.concrete_fields
        if f.name in {user_model.USERNAME_FIELD, "first_name", "last_name"}
    ]
    update, link = IncidentUpdate._meta, IncidentLink._meta
    q = connection.ops.quote_name
    visible = sorted(audience.visibilities)
    marks = ", ".join(["%s"] * len(visible))
    nulls = "".join(", NULL" for _ in user_fields)
    users, user_pk = q(user_model._meta.db_table), q(str(user_model._meta.pk.column))
    sql = f"""
        SELECT 'u' AS row_kind, u.id, u.incident_id, u.message, u.status_change, u.visibility,
            u.created_at, u.edited_at, u.edit_history, u.created_by_id, NULL AS link_url
            {"".join(f", a.{q(str(f.column))} AS {q('user_' + f.attname)}" for f in user_fields)}
        FROM {q(update.db_table)} u
        LEFT JOIN {users} a ON a.{user_pk} = u.created_by_id
        WHERE u.incident_id = %s AND u.visibility IN ({marks})
        UNION ALL
        SELECT 'l', l.id, l.incident_id, l.label, NULL, l.visibility, l.created_at, NULL, NULL,
            NULL, l.url{nulls}
        FROM {q(link.db_table)} l
        WHERE l.incident_id = %s AND l.visibility IN ({marks})
        ORDER BY 1 DESC, 7, 2
    """  # updates ('u') first, each kind by (created_at, id)
    updates: list[IncidentUpdate] = []
    links: list[IncidentLink] = []
    extra = ["row_kind", "link_url", *(f"user_{f.attname}" for f in user_fields)]
    for row in IncidentUpdate.objects.raw(sql, [incident_id, *visible, incident_id, *visible]):
        values = {name: row.__dict__.pop(name) for name in extra}
        if values["row_kind"] == "l":
            links.append(
                IncidentLink.from_db(
                    row._state.db,
                    ["id", "incident_id", "label", "url", "visibility", "created_at"],
                    [
                        row.id,
                        row.incident_id,
                        row.message,
                        values["link_url"],
                        row.visibility,
                        row.created_at,
                    ],
                )
            )
            continue
        if row.created_by_id is not None:
            row.created_by = user_model.from_db(
                row._state.db,
                [user_model._meta.pk.attname, *(f.attname for f in user_fields)],
                [row.created_by_id, *(values[f"user_{f.attname}"] for f in user_fields)],
            )
        updates.append(row)
    return {"updates": updates, "links": links}


def _set_prefetched(incident: Incident, name: str, rows: list[Any]) -> None:
    """``rows`` as the prefetched ``name`` relation of ``incident`` (what
    ``prefetch_related_objects`` stores)."""
    queryset = getattr(incident, name).all()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    incident.__dict__.setdefault("_prefetched_objects_cache", {})[name] = queryset


def get_many_entity_states(ids: Iterable[str]) -> dict[str, IncidentState]:
    return incident_handle().get_many(ids)
