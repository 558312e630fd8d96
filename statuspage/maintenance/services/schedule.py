"""On-time transitions: start what is due to start, complete what is due to end.

Run by a django-q2 schedule every ~30 s (and the ``maintenance_advance`` command). A worker that
was down catches up: a maintenance whose whole window passed meanwhile is started, then
completed (two changes, two triggers, in that order). Each maintenance advances in its own
transaction under its entity lock, re-checking its status there, so two workers advancing at
once move each maintenance once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from checkstack.errors import NotFound
from statuspage.models import Maintenance

from ..choices import MaintenanceStatus
from .transitions import DEFAULT_MESSAGES, record
from .writes import write_maintenance

SCHEDULE_ACTOR = {"type": "service", "id": "maintenance-schedule", "name": "Maintenance schedule"}
# The transitions in the order they run: (what ``Advanced`` lists them as, the target status,
# the status they leave, the time whose passing makes them due).
DUE = (
    ("started", MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.SCHEDULED, "starts_at"),
    ("completed", MaintenanceStatus.COMPLETED, MaintenanceStatus.IN_PROGRESS, "ends_at"),
)


@dataclasses.dataclass
class Advanced:
    """The ids this call moved, per transition."""

    started: list[str] = dataclasses.field(default_factory=list)
    completed: list[str] = dataclasses.field(default_factory=list)


def advance_due(now: dt.datetime | None = None) -> Advanced:
    """Start every scheduled maintenance whose ``starts_at`` passed and complete every one in
    progress whose ``ends_at`` passed (by ``now``, default the current time)."""
    now = now or timezone.now()
    due = Q()
    for _, _, from_status, moment in DUE:
        due |= Q(status=from_status, **{f"{moment}__lte": now})
    ids = list(
        Maintenance.objects.filter(due).order_by("starts_at", "id").values_list("pk", flat=True)
    )
    advanced = Advanced()
    for maintenance_id in ids:
        with transaction.atomic():
            for listed_as, to, from_status, moment in DUE:
                if _advance(maintenance_id, to, from_status, moment, now):
                    getattr(advanced, listed_as).append(maintenance_id)
    return advanced


def _advance(maintenance_id: str, to: str, from_status: str, moment: str, now: dt.datetime) -> bool:
    """Move one maintenance to ``to`` if, under its lock, it is still due; whether it moved."""

    def change(maintenance: Maintenance, at: dt.datetime) -> bool:
        if maintenance.status != from_status or getattr(maintenance, moment) > now:
            return False  # another worker (or an operator) got there first
        record(
            maintenance,
            message=DEFAULT_MESSAGES[MaintenanceStatus(to)],
            status_change=to,
            actor=SCHEDULE_ACTOR,
            now=at,
        )
        return True

    try:
        return write_maintenance(  # type: ignore[no-any-return]
            maintenance_id, change, actor=SCHEDULE_ACTOR, run_id=None
        )
    except NotFound:  # deleted since it was listed
        return False
