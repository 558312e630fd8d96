"""A maintenance's timeline: adding an update, and the status transitions it can carry."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from checkstack.actors import ActorLike
from checkstack.validation import Errors, clean_choice, clean_optional_text, clean_required_text
from incidents.choices import Visibility
from statuspage.models import Maintenance, MaintenanceUpdate

from ..choices import MaintenanceStatus
from .fields import MAX_MESSAGE
from .transitions import DEFAULT_MESSAGES, record
from .writes import write_maintenance


def add_update(
    maintenance_id: str,
    *,
    message: str,
    status_change: str | None = None,
    visibility: str = Visibility.PUBLIC,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> MaintenanceUpdate:
    """A timeline update; a ``status_change`` must follow the rules (``Conflict`` otherwise)."""
    errors = Errors()
    message = clean_required_text(errors, "message", message, max_length=MAX_MESSAGE)
    if status_change is not None:
        status_change = clean_choice(
            errors, "status_change", status_change, MaintenanceStatus.values
        )
    visibility = clean_choice(errors, "visibility", visibility, Visibility.values)
    errors.raise_if_any()
    return write_maintenance(  # type: ignore[no-any-return]
        maintenance_id,
        lambda maintenance, now: record(
            maintenance,
            message=message,
            status_change=status_change,
            visibility=visibility,
            actor=actor,
            now=now,
        ),
        actor=actor,
        run_id=run_id,
    )


def transition(
    maintenance_id: str,
    to: MaintenanceStatus,
    *,
    message: str | None = None,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> Maintenance:
    """Move to ``to`` now, with a public timeline update (the given message or the default)."""
    errors = Errors()
    message = clean_optional_text(errors, "message", message)
    errors.raise_if_any()

    def change(maintenance: Maintenance, now: dt.datetime) -> Maintenance:
        text = message or DEFAULT_MESSAGES[to]
        record(maintenance, message=text, status_change=to, actor=actor, now=now)
        return maintenance

    return write_maintenance(maintenance_id, change, actor=actor, run_id=run_id)  # type: ignore[no-any-return]


class Transition(Protocol):
    def __call__(
        self,
        maintenance_id: str,
        *,
        message: str | None = None,
        actor: ActorLike = None,
        run_id: str | None = None,
    ) -> Maintenance: ...


def _transition_to(to: MaintenanceStatus, doc: str) -> Transition:
    def move_to(
        maintenance_id: str,
        *,
        message: str | None = None,
        actor: ActorLike = None,
        run_id: str | None = None,
    ) -> Maintenance:
        return transition(maintenance_id, to, message=message, actor=actor, run_id=run_id)

    move_to.__doc__ = doc
    return move_to


start_maintenance = _transition_to(
    MaintenanceStatus.IN_PROGRESS,
    "scheduled → in_progress, now (before ``starts_at``: starting early).",
)
complete_maintenance = _transition_to(
    MaintenanceStatus.COMPLETED,
    "in_progress → completed, now (before ``ends_at``: finishing early).",
)
cancel_maintenance = _transition_to(
    MaintenanceStatus.CANCELLED, "scheduled or in_progress → cancelled, now."
)
