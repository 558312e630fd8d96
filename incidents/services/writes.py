"""The write protocol of one existing incident: lock, change, log, and notify after commit.

Every service that changes an incident (fields, status, timeline, links, systems) hands its
change to ``write_incident``; ``notify_changed`` sends ``incident_changed`` after commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from django.utils import timezone

from checkstack.errors import NotFound
from checkstack.signals import send_after_commit

from ..choices import Action, Status
from ..entity import IncidentState, incident_handle, read_incidents, saved_rows
from ..models import Incident, IncidentSystem
from ..signals import incident_changed


@dataclasses.dataclass(frozen=True)
class Unchanged:
    """Returned by a change that decided to write nothing: no signal is sent."""

    value: Any


def _action_for(prev: IncidentState | None, next_: IncidentState | None) -> Action:
    if prev is None:
        return Action.CREATED
    if next_ is None:
        return Action.DELETED
    if next_.status == Status.RESOLVED and prev.status != Status.RESOLVED:
        return Action.RESOLVED
    if prev.status == Status.RESOLVED and next_.status != Status.RESOLVED:
        return Action.REOPENED
    return Action.UPDATED


# Where a write leaves the related rows it saved with the instance it returns (``detail_of``).
WRITTEN_RELATIONS = "_checkstack_written_relations"


def remember_written(incident: Incident, **relations: Iterable[Any]) -> None:
    """Leave with ``incident`` the related rows (``systems``, ``updates``, ``links``) the write
    that returns it has just saved, all of them, for ``detail_of``. They are not its prefetched
    relations: ``incident.updates.all()`` still reads the table."""
    incident.__dict__[WRITTEN_RELATIONS] = {name: list(rows) for name, rows in relations.items()}


def remember_systems(incident: Incident, system_ids: Iterable[str]) -> None:
    """Leave with ``incident`` its systems as the write's next state has them (sorted), unless
    the write left its saved link rows already: the detail then reads no link rows."""
    written = incident.__dict__.setdefault(WRITTEN_RELATIONS, {})
    written.setdefault(
        "systems", [IncidentSystem(incident_id=incident.pk, system_id=s) for s in system_ids]
    )


def notify_changed(incident_id: str, prev: Any, next_: Any, actor: dict[str, Any]) -> None:
    """Send ``incident_changed`` after commit, its ``action`` read from the two states (right
    away when called after the write's own transaction committed)."""
    state = next_ or prev
    send_after_commit(
        incident_changed,
        Incident,
        incident_id=incident_id,
        system_ids=list(state.systemIds) if state is not None else [],
        action=str(_action_for(prev, next_)),
        actor=actor,
    )


def write_incident(
    incident_id: str,
    change: Callable[[Incident, Any], Any],
    *,
    actor: dict[str, Any],
    run_id: str | None,
) -> Any:
    """Run ``change(incident, now)`` on the locked incident through the entity; its result.

    ``change`` saves what it changes of ``incident`` (the change's payload reads the row's
    descriptive fields from that instance). The entity write is the transaction (or joins the
    caller's); ``incident_changed`` is sent after it commits.
    """
    result: dict[str, Any] = {}
    states: dict[str, Any] = {}

    with saved_rows() as saved:

        def apply(prev: IncidentState | None) -> None:
            if prev is None:
                raise NotFound(f"Incident {incident_id} not found")
            states["prev"] = prev
            # The row the lock's read returned (current, under the lock); else read it.
            incident = read_incidents.take_row(incident_id) or Incident.objects.get(pk=incident_id)
            result["value"] = change(incident, timezone.now())
            saved[incident_id] = incident

        next_ = incident_handle().mutate(incident_id, apply, actor=actor, run_id=run_id)
    value = result.get("value")
    if isinstance(value, Unchanged):
        return value.value
    if isinstance(value, Incident) and next_ is not None:
        remember_systems(value, next_.systemIds)  # what the detail shows, read by the write
    notify_changed(incident_id, states["prev"], next_, actor)
    return value
