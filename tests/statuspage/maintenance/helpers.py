"""Helpers of the maintenance tests: windows, maintenances, their changes and trigger events."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.utils import timezone

from checkstack.entities.models import Change, TriggerEvent
from statuspage.maintenance import services
from statuspage.models import Maintenance

HOUR = dt.timedelta(hours=1)


def window(start_in: dt.timedelta = HOUR, length: dt.timedelta = HOUR) -> dict[str, dt.datetime]:
    """``starts_at`` / ``ends_at`` of a window ``start_in`` from now, ``length`` long."""
    starts_at = timezone.now() + start_in
    return {"starts_at": starts_at, "ends_at": starts_at + length}


def make_maintenance(
    system_ids: tuple[str, ...] | list[str] = ("db",), **fields: Any
) -> Maintenance:
    fields.setdefault("title", "Database upgrade")
    for name, value in window().items():
        fields.setdefault(name, value)
    return services.create_maintenance(system_ids=list(system_ids), **fields)


def running(system_ids: tuple[str, ...] | list[str] = ("db",), **fields: Any) -> Maintenance:
    """A maintenance in progress (started by hand)."""
    maintenance = make_maintenance(system_ids, **fields)
    return services.start_maintenance(maintenance.pk)


def changes(maintenance_id: str) -> list[Change]:
    return list(Change.objects.filter(kind="maintenance", entity_id=maintenance_id).order_by("seq"))


def assert_chained(logged: list[Change]) -> None:
    """One entity's changes: seq 1, 2, 3 ... and each change's prev is the previous next."""
    assert [c.seq for c in logged] == list(range(1, len(logged) + 1))
    for earlier, later in itertools.pairwise(logged):
        assert later.prev == earlier.next


def events(maintenance_id: str) -> list[str]:
    """The trigger ids derived for the maintenance, in change order."""
    return list(
        TriggerEvent.objects.filter(change__kind="maintenance", change__entity_id=maintenance_id)
        .order_by("change__seq")
        .values_list("event", flat=True)
    )


def payloads(maintenance_id: str) -> list[dict[str, Any]]:
    return list(
        TriggerEvent.objects.filter(change__kind="maintenance", change__entity_id=maintenance_id)
        .order_by("change__seq")
        .values_list("payload", flat=True)
    )


def reload(maintenance: Maintenance | str) -> Maintenance:
    pk = maintenance if isinstance(maintenance, str) else maintenance.pk
    return Maintenance.objects.get(pk=pk)
