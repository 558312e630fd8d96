"""Run records: reading, creating (for the dispatcher), cancelling, and the run's own fields.

The lowest module of the run engine: the others change a run through ``finish`` and ``touch``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from checkstack.actors import ActorLike
from checkstack.entities.models import TriggerEvent
from checkstack.errors import Conflict, NotFound

from .. import queueing
from ..models import ACTIVE_RUN_STATUSES, Automation, AutomationRun, RunStatus, StepStatus

MAX_ERROR = 4000


def run_uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def list_runs(
    *, automation_id: str | None = None, status: str | None = None
) -> QuerySet[AutomationRun]:
    runs = AutomationRun.objects.order_by("-created_at", "id")
    if automation_id is not None:
        runs = runs.filter(automation_id=automation_id)
    if status is not None:
        runs = runs.filter(status=status)
    return runs


def get_run(run_id: Any) -> AutomationRun:
    pk = run_uuid(run_id)
    run = AutomationRun.objects.filter(pk=pk).first() if pk else None
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    return run


def cancel_run(run_id: Any, *, actor: ActorLike = None, reason: str = "") -> AutomationRun:
    """Stop an active run: no further step starts. A finished run cannot be cancelled (409)."""
    pk = run_uuid(run_id)
    with transaction.atomic():
        run = AutomationRun.objects.select_for_update().filter(pk=pk).first() if pk else None
        if run is None:
            raise NotFound(f"Run {run_id} not found")
        if run.status not in ACTIVE_RUN_STATUSES:
            raise Conflict(f"Run {run_id} is already {run.status}")
        cancel(run, reason or "Cancelled by an operator")
    return run


def cancel(run: AutomationRun, reason: str) -> None:
    now = timezone.now()
    run.steps.filter(status__in=[StepStatus.RUNNING, StepStatus.WAITING]).update(
        status=StepStatus.CANCELLED, finished_at=now
    )
    run.status = RunStatus.CANCELLED
    run.error = reason
    run.finished_at = now
    run.updated_at = now
    run.save(update_fields=["status", "error", "finished_at", "updated_at"])


def automation_actor(automation: Automation) -> dict[str, Any]:
    return {"type": "service", "id": f"automation:{automation.pk}", "name": automation.name}


def create_run(
    automation: Automation,
    event: TriggerEvent,
    *,
    status: RunStatus = RunStatus.PENDING,
    error: str = "",
) -> AutomationRun | None:
    """The run of ``automation`` for ``event`` (None when one exists: redelivery is harmless).

    A pending run is enqueued after commit; other statuses are a record only.
    """
    now = timezone.now()
    finished = status not in ACTIVE_RUN_STATUSES
    try:
        with transaction.atomic():
            run = AutomationRun.objects.create(
                automation=automation,
                trigger_event_id=event.pk,
                event=event.event,
                payload=event.payload,
                actor=event.actor,
                context_key=event.context_key,
                status=status,
                error=error[:MAX_ERROR],
                steps_snapshot=automation.steps,
                created_at=now,
                updated_at=now,
                finished_at=now if finished else None,
            )
    except IntegrityError:
        return None
    if status == RunStatus.PENDING:
        enqueue_after_commit(run.pk)
    return run


def enqueue_after_commit(run_id: uuid.UUID) -> None:
    """Hand the run to a worker once the current transaction commits."""
    queueing.enqueue_after_commit(queueing.RUN_TASK, [str(run_id)])


def active_runs(automation: Automation, context_key: str | None) -> QuerySet[AutomationRun]:
    """The runs in the concurrency bucket of ``automation`` for ``context_key``."""
    runs = AutomationRun.objects.filter(automation=automation, status__in=ACTIVE_RUN_STATUSES)
    if automation.concurrency.get("scope") == "context_key":
        runs = runs.filter(context_key=context_key)
    return runs


def cancel_runs(runs: QuerySet[AutomationRun], *, reason: str) -> int:
    """Cancel the active runs among ``runs`` (waits for each one's current step)."""
    cancelled = 0
    for run in runs.select_for_update().filter(status__in=ACTIVE_RUN_STATUSES):
        cancel(run, reason)
        cancelled += 1
    return cancelled


def finish(run: AutomationRun, status: RunStatus, error: str = "") -> None:
    run.status = status
    run.error = error[:MAX_ERROR]
    run.finished_at = timezone.now()
    touch(run, "status", "error", "finished_at")


def touch(run: AutomationRun, *fields: str) -> None:
    run.updated_at = timezone.now()
    run.save(update_fields=[*fields, "updated_at"])
