"""What the public page shows, read with a number of queries that does not grow with the
number of systems, groups, incidents or changes.

Everything is read as one audience sees it: anonymous readers see ``public`` incidents,
maintenance and updates; logged-in readers (managers included: the page is the public face)
also see ``logged_in`` ones; ``internal`` ones are never read here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from django.apps import apps
from django.db.models import Model, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from checkstack.entities.models import Change
from checkstack.errors import NotFound
from checkstack.system_status import SystemStatus, system_statuses, worst
from incidents import services as incidents
from incidents.choices import Status
from incidents.models import Incident, IncidentUpdate
from incidents.services import Audience
from incidents.system_status import BY_HEALTH_OVERRIDE, BY_SEVERITY
from statuspage.maintenance import services as maintenance
from statuspage.maintenance.choices import MaintenanceStatus
from statuspage.models import Maintenance

from .history import DayCell, Event, JSONState, Stream, day_window, spells, strips
from .states import StateLook, indicator_of, look_of

HISTORY_DAYS = 90
INCIDENT_KIND = "incident"
MAINTENANCE_KIND = "maintenance"


def page_audience(user: Any) -> Audience:
    """Anonymous: the public; anyone logged in, managers too: the logged-in audience."""
    if user is not None and user.is_authenticated:
        return Audience.LOGGED_IN
    return Audience.PUBLIC


# -- the systems ------------------------------------------------------------------------------


@dataclasses.dataclass
class SystemRow:
    id: str
    name: str
    description: str | None
    status: SystemStatus
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    group_ids: list[str] = dataclasses.field(default_factory=list)
    cells: list[DayCell] = dataclasses.field(default_factory=list)

    @property
    def look(self) -> StateLook:
        return look_of(self.status)


@dataclasses.dataclass
class GroupRow:
    """A catalog group, or (``id`` None) the systems in no group."""

    id: str | None
    name: str
    systems: list[SystemRow]
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def status(self) -> SystemStatus:
        return worst(system.status for system in self.systems)

    @property
    def look(self) -> StateLook:
        return look_of(self.status)


@dataclasses.dataclass(frozen=True)
class Catalog:
    systems: list[SystemRow]
    groups: list[GroupRow]


OTHER_SYSTEMS = "Other systems"


def read_catalog(statuses: dict[str, SystemStatus], extra_ids: Iterable[str] = ()) -> Catalog:
    """Every catalog system (by name) with its status, and the groups with their systems; the
    systems in no group form the last group, "Other systems". Without the catalog app, the
    systems are the ids the incidents and maintenance name (``extra_ids``). Three queries."""
    if not apps.is_installed("catalog"):
        ids = sorted({*statuses, *extra_ids})
        rows = [SystemRow(i, i, None, statuses.get(i, SystemStatus.OPERATIONAL)) for i in ids]
        return Catalog(rows, [GroupRow(None, OTHER_SYSTEMS, rows)] if rows else [])
    from catalog import services as catalog  # an optional app: imported only when installed

    by_id = {
        system.pk: SystemRow(
            system.pk,
            system.name,
            system.description,
            statuses.get(system.pk, SystemStatus.OPERATIONAL),
            system.created_at,
            system.updated_at,
            sorted(group.pk for group in system.groups.all()),
        )
        for system in catalog.list_systems()
    }
    members: dict[str, list[SystemRow]] = {}
    for system in by_id.values():  # by name: so are the members of each group
        for group_id in system.group_ids:
            members.setdefault(group_id, []).append(system)
    groups = [
        GroupRow(
            group.pk, group.name, members.get(group.pk, []), group.created_at, group.updated_at
        )
        for group in catalog.list_groups().prefetch_related(None)
    ]
    ungrouped = [system for system in by_id.values() if not system.group_ids]
    if ungrouped:
        groups.append(GroupRow(None, OTHER_SYSTEMS, ungrouped))
    return Catalog(list(by_id.values()), groups)


# -- incidents and maintenance ----------------------------------------------------------------


def visible_incidents(audience: Audience) -> QuerySet[Incident]:
    """Incidents the audience may see, with their systems and their visible updates (newest
    first, as the page lists them)."""
    visible = sorted(audience.visibilities)
    return incidents.list_incidents(
        include_resolved=True, visibilities=audience.visibilities
    ).prefetch_related(
        Prefetch(
            "updates",
            queryset=IncidentUpdate.objects.filter(visibility__in=visible).order_by(
                "-created_at", "-id"
            ),
        )
    )


def get_incident(incident_id: str, audience: Audience) -> Card:
    """One incident the audience may see (else ``NotFound``), updates newest first."""
    incident = visible_incidents(audience).filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(f"Incident {incident_id} not found")
    names = system_names([s.system_id for s in incident.systems.all()])
    return incident_cards([incident], names)[0]


def recent_incidents(audience: Audience, limit: int) -> list[Incident]:
    """The ``limit`` most recently updated incidents, resolved ones too (for the feeds)."""
    return list(visible_incidents(audience).order_by("-updated_at", "-id")[:limit])


@dataclasses.dataclass(frozen=True)
class Card:
    """An incident or maintenance as the page shows it: ``look`` is what it does to its
    systems while active (None once over or not started), ``systems`` are (id, name) pairs."""

    item: Any
    look: StateLook | None
    systems: list[tuple[str, str]]

    @property
    def updates(self) -> list[Any]:
        return list(self.item.updates.all())


def incident_status(severity: str, health_override: str | None) -> SystemStatus:
    """What an open incident does to its systems (the incidents status source's rule)."""
    return BY_HEALTH_OVERRIDE.get(health_override) or BY_SEVERITY[severity]


def incident_cards(items: Iterable[Incident], names: dict[str, str]) -> list[Card]:
    return [
        Card(
            item,
            look_of(incident_status(item.severity, item.health_override))
            if item.is_active
            else None,
            [(s.system_id, names.get(s.system_id, s.system_id)) for s in item.systems.all()],
        )
        for item in items
    ]


def maintenance_cards(items: Iterable[Maintenance], names: dict[str, str]) -> list[Card]:
    running = look_of(SystemStatus.UNDER_MAINTENANCE)
    return [
        Card(
            item,
            running if item.status == MaintenanceStatus.IN_PROGRESS else None,
            [(s.system_id, names.get(s.system_id, s.system_id)) for s in item.systems.all()],
        )
        for item in items
    ]


@dataclasses.dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    @property
    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def start(self) -> dt.datetime:
        """Midnight of the month's first day, in the current time zone."""
        midnight = dt.datetime.combine(self.first_day, dt.time())
        return timezone.make_aware(midnight, timezone.get_current_timezone())

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM`` (years 1 to 9998); ``ValueError`` otherwise."""
        year, sep, month = text.partition("-")
        if not (sep and len(year) == 4 and len(month) == 2 and year.isdigit() and month.isdigit()):
            raise ValueError(f"Not a month (YYYY-MM): {text!r}")
        parsed = cls(int(year), int(month))
        if not (1 <= parsed.month <= 12 and 1 <= parsed.year <= 9998):
            raise ValueError(f"Not a month (YYYY-MM): {text!r}")
        return parsed

    @classmethod
    def current(cls) -> Month:
        today = timezone.localdate()
        return cls(today.year, today.month)


@dataclasses.dataclass(frozen=True)
class MonthHistory:
    month: Month
    incidents: list[Card]
    has_earlier: bool
    has_later: bool


def month_history(month: Month, audience: Audience) -> MonthHistory:
    """The incidents started in ``month`` (newest first), and whether to link the months
    around it: earlier ones when there are earlier incidents, later ones up to this month."""
    start, end = month.start(), month.next.start()
    listed = list(
        visible_incidents(audience)
        .filter(created_at__gte=start, created_at__lt=end)
        .order_by("-created_at", "-id")
    )
    has_earlier = (
        Incident.objects.filter(visibility__in=sorted(audience.visibilities), created_at__lt=start)
        .order_by()
        .exists()
    )
    ids = {s.system_id for incident in listed for s in incident.systems.all()}
    cards = incident_cards(listed, system_names(ids))
    return MonthHistory(month, cards, has_earlier, month.next.first_day <= timezone.localdate())


def system_names(system_ids: Collection[str]) -> dict[str, str]:
    """Catalog names of the given systems (ids of unknown or deleted ones are absent)."""
    if not system_ids or not apps.is_installed("catalog"):
        return {}
    from catalog import services as catalog  # an optional app: imported only when installed

    systems = catalog.list_systems().prefetch_related(None).filter(pk__in=list(system_ids))
    return dict(systems.values_list("pk", "name"))


# -- the history strip ------------------------------------------------------------------------


def incident_contribution(row: dict[str, Any]) -> Callable[[JSONState], SystemStatus | None]:
    """What a state of this incident gives its systems: nothing once resolved; else as the
    status source says (the override is not logged: its current value stands for all time)."""

    def contribution(state: JSONState) -> SystemStatus | None:
        if state.get("status") == Status.RESOLVED:
            return None
        return incident_status(state["severity"], row["health_override"])

    return contribution


def maintenance_contribution(row: dict[str, Any]) -> Callable[[JSONState], SystemStatus | None]:
    def contribution(state: JSONState) -> SystemStatus | None:
        if state.get("status") == MaintenanceStatus.IN_PROGRESS:
            return SystemStatus.UNDER_MAINTENANCE
        return None

    return contribution


def entity_streams(
    kind: str,
    visible: QuerySet[Any],
    open_at_start: QuerySet[Any],
    contribution: Callable[[dict[str, Any]], Callable[[JSONState], SystemStatus | None]],
    *,
    start: dt.datetime,
    fields: Sequence[str] = (),
) -> list[Stream]:
    """The streams of the ``visible`` entities of ``kind`` that changed since ``start`` or
    were active then (``open_at_start``): three queries whatever their number.

    An entity whose row is gone (deleted) is not visible, so it leaves the history too.
    """
    window = (
        Change.objects.filter(kind=kind, occurred_at__gte=start, entity_id__in=visible.values("pk"))
        .order_by("entity_id", "seq")
        .values_list("entity_id", "occurred_at", "next")
    )
    last_before_start = (
        Change.objects.filter(kind=kind, entity_id=OuterRef("entity_id"), occurred_at__lt=start)
        .order_by("-seq")
        .values("seq")[:1]
    )
    opening = Change.objects.filter(
        kind=kind,
        occurred_at__lt=start,
        entity_id__in=open_at_start.values("pk"),
        seq=Subquery(last_before_start),
    ).values_list("entity_id", "next")
    changes: dict[str, list[tuple[dt.datetime, JSONState | None]]] = {}
    for entity_id, occurred_at, next_state in window:
        changes.setdefault(entity_id, []).append((occurred_at, next_state))
    openings: dict[str, JSONState | None] = dict(opening)
    ids = {*changes, *openings}
    if not ids:
        return []
    rows = visible.filter(pk__in=ids).values("pk", "title", *fields)
    return [
        Stream(
            Event(kind, row["pk"], row["title"]),
            contribution(row),
            openings.get(row["pk"]),
            changes.get(row["pk"], []),
        )
        for row in rows
    ]


def history_streams(audience: Audience, start: dt.datetime) -> list[Stream]:
    visible = sorted(audience.visibilities)
    open_incidents = Incident.objects.filter(created_at__lt=start).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=start)
    )
    running_maintenance = Maintenance.objects.filter(started_at__lt=start).filter(
        Q(finished_at__isnull=True) | Q(finished_at__gte=start)
    )
    return entity_streams(
        INCIDENT_KIND,
        Incident.objects.filter(visibility__in=visible).order_by(),
        open_incidents.order_by(),
        incident_contribution,
        start=start,
        fields=("health_override",),
    ) + entity_streams(
        MAINTENANCE_KIND,
        Maintenance.objects.filter(visibility__in=visible).order_by(),
        running_maintenance.order_by(),
        maintenance_contribution,
        start=start,
    )


def window_start(days: Sequence[dt.date]) -> dt.datetime:
    return timezone.make_aware(
        dt.datetime.combine(days[0], dt.time()), timezone.get_current_timezone()
    )


# -- the whole page ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Overview:
    """Everything ``/status/`` (and summary.json) shows."""

    status: SystemStatus
    catalog: Catalog
    incidents: list[Card]
    maintenances: list[Card]
    system_names: dict[str, str]
    days: list[dt.date]
    updated_at: dt.datetime

    @property
    def look(self) -> StateLook:
        return look_of(self.status)

    @property
    def indicator(self) -> str:
        return indicator_of(self.status)[0]

    @property
    def description(self) -> str:
        return indicator_of(self.status)[1]


def overview(audience: Audience) -> Overview:
    """The page: overall status, the systems by group with their 90-day strips, the active
    incidents and the running and upcoming maintenance. Seventeen queries, however many
    rows there are."""
    now = timezone.now()
    visibilities = audience.visibilities
    statuses = system_statuses(None, visibilities=visibilities)
    active = list(visible_incidents(audience).exclude(status=Status.RESOLVED))
    upcoming = maintenance.active_and_upcoming(visibilities)
    days = day_window(timezone.localdate(now), HISTORY_DAYS)
    found = spells(history_streams(audience, window_start(days)), start=window_start(days), now=now)
    mentioned = {s.system_id for i in active for s in i.systems.all()}
    mentioned |= {s.system_id for m in upcoming for s in m.systems.all()}
    mentioned |= {system_id for spell in found for system_id in spell.system_ids}
    catalog = read_catalog(statuses, mentioned)
    tz = timezone.get_current_timezone()
    first_days = {
        s.id: timezone.localtime(s.created_at, tz).date() for s in catalog.systems if s.created_at
    }
    cells = strips([s.id for s in catalog.systems], found, days=days, tz=tz, first_days=first_days)
    for system in catalog.systems:
        system.cells = cells[system.id]
    stamps = [i.updated_at for i in active] + [m.updated_at for m in upcoming]
    stamps += [s.updated_at for s in catalog.systems if s.updated_at]
    stamps += [spell.start for spell in found if spell.start > window_start(days)]
    names = {s.id: s.name for s in catalog.systems}
    return Overview(
        status=worst(s.status for s in catalog.systems),
        catalog=catalog,
        incidents=incident_cards(active, names),
        maintenances=maintenance_cards(upcoming, names),
        system_names=names,
        days=days,
        updated_at=max(stamps, default=now),
    )


@dataclasses.dataclass(frozen=True)
class Badge:
    name: str
    status: SystemStatus

    @property
    def look(self) -> StateLook:
        return look_of(self.status)


def badge(system_id: str, audience: Audience) -> Badge:
    """One system's name and status; ``NotFound`` for a system the catalog does not have
    (without the catalog app: one no incident or maintenance names)."""
    names = system_names([system_id])
    if apps.is_installed("catalog") and system_id not in names:
        raise NotFound(f"System {system_id} not found")
    status = system_statuses([system_id], visibilities=audience.visibilities)[system_id]
    if not apps.is_installed("catalog") and not _named_anywhere(system_id):
        raise NotFound(f"System {system_id} not found")
    return Badge(names.get(system_id, system_id), status)


def _named_anywhere(system_id: str) -> bool:
    related: list[type[Model]] = [Incident, Maintenance]
    return any(
        model.objects.filter(systems__system_id=system_id).exists()  # type: ignore[attr-defined]
        for model in related
    )
