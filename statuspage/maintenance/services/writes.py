"""The write protocol of one existing maintenance: lock it through the entity, change, log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from checkstack.actors import ActorLike, to_actor
from checkstack.errors import NotFound
from statuspage.models import Maintenance

from ..entity import MaintenanceState, maintenance_handle


def write_maintenance(
    maintenance_id: str,
    change: Callable[[Maintenance, dt.datetime], Any],
    *,
    actor: ActorLike,
    run_id: str | None,
) -> Any:
    """``change(maintenance, now)`` on the row read under the entity lock; what it returns.

    Raises ``NotFound`` when the maintenance does not exist (nothing is written then).
    """
    outcome: list[Any] = []

    def apply(prev: MaintenanceState | None) -> None:
        if prev is None:
            raise NotFound(f"Maintenance {maintenance_id} not found")
        outcome.append(change(Maintenance.objects.get(pk=maintenance_id), timezone.now()))

    maintenance_handle().mutate(str(maintenance_id), apply, actor=to_actor(actor), run_id=run_id)
    return outcome[0]
