"""The status rules: scheduled → in_progress → completed; scheduled or in_progress → cancelled.

Every transition stamps its time and is recorded on the timeline as a status-bearing update.
"""

from __future__ import annotations

import datetime as dt

from checkstack.actors import ActorLike, user_of
from checkstack.errors import Conflict
from incidents.choices import Visibility
from statuspage.models import Maintenance, MaintenanceUpdate

from ..choices import MaintenanceStatus

# Target status → the statuses it may be reached from.
ALLOWED_FROM = {
    MaintenanceStatus.IN_PROGRESS: (MaintenanceStatus.SCHEDULED,),
    MaintenanceStatus.COMPLETED: (MaintenanceStatus.IN_PROGRESS,),
    MaintenanceStatus.CANCELLED: (MaintenanceStatus.SCHEDULED, MaintenanceStatus.IN_PROGRESS),
}
DEFAULT_MESSAGES = {
    MaintenanceStatus.IN_PROGRESS: "Scheduled maintenance is in progress.",
    MaintenanceStatus.COMPLETED: "Scheduled maintenance has been completed.",
    MaintenanceStatus.CANCELLED: "Scheduled maintenance has been cancelled.",
}
FINISHED = (MaintenanceStatus.COMPLETED, MaintenanceStatus.CANCELLED)


def check_transition(maintenance: Maintenance, to: str) -> None:
    """``Conflict`` (409) unless the rules allow ``maintenance`` to move to ``to``."""
    allowed = ALLOWED_FROM.get(MaintenanceStatus(to), ())
    if maintenance.status in allowed:
        return
    rule = f"only from {' or '.join(allowed)}" if allowed else "never again once it has left it"
    raise Conflict(
        f"Maintenance {maintenance.pk} is {maintenance.status}; it can become {to} {rule}."
    )


def move(maintenance: Maintenance, to: str, now: dt.datetime) -> None:
    """Set the status and its timestamp and save (the caller checked the rules)."""
    maintenance.status = to
    if to == MaintenanceStatus.IN_PROGRESS:
        maintenance.started_at = now
    else:
        maintenance.finished_at = now
    maintenance.updated_at = now
    maintenance.save()


def record(
    maintenance: Maintenance,
    *,
    message: str,
    status_change: str | None,
    visibility: str = Visibility.PUBLIC,
    actor: ActorLike,
    now: dt.datetime,
) -> MaintenanceUpdate:
    """One timeline update; a ``status_change`` moves the status with it (rules checked)."""
    if status_change is not None:
        check_transition(maintenance, status_change)
    update = MaintenanceUpdate.objects.create(
        maintenance=maintenance,
        message=message,
        status_change=status_change,
        visibility=visibility,
        created_at=now,
        created_by=user_of(actor),
    )
    if status_change is not None:
        move(maintenance, status_change, now)
    else:
        maintenance.updated_at = now
        maintenance.save(update_fields=["updated_at"])
    return update
