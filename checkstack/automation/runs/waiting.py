"""``automation.wait_for_trigger``: suspending a run, resuming it on its event, timing it out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from pydantic import BaseModel

from checkstack.entities.masking import mask_value, secrets_for
from checkstack.entities.models import TriggerEvent

from ..actions import WaitForTriggerConfig
from ..models import AutomationRun, RunStatus, RunStep, StepStatus
from .records import enqueue_after_commit, touch
from .steps import fail_step


def start_waiting(run: AutomationRun, index: int, config: BaseModel) -> None:
    assert isinstance(config, WaitForTriggerConfig)
    now = timezone.now()
    context_key = config.context_key if config.context_key is not None else run.context_key
    run.status = RunStatus.WAITING
    run.wait_event = config.event
    run.wait_context_key = context_key
    # Events count from the run's trigger (or its previous resume) on, so an incident that was
    # resolved before the run reached this step still wakes it.
    run.wait_started_at = _events_since(run)
    run.wait_until = now + dt.timedelta(seconds=config.timeout_seconds)
    RunStep.objects.filter(run=run, position=index).update(
        status=StepStatus.WAITING,
        config=mask_value(config.model_dump(mode="json"), secrets_for(str(run.pk))),
    )
    touch(run, "status", "wait_event", "wait_context_key", "wait_started_at", "wait_until")
    # The awaited event may have committed while this step ran: look once now, too.
    arrived = arrived_events(run).first()
    if arrived is not None:
        resume(run, arrived)


def _events_since(run: AutomationRun) -> dt.datetime:
    if run.resume and run.resume.get("created_at"):
        return dt.datetime.fromisoformat(run.resume["created_at"])
    created = (
        TriggerEvent.objects.filter(pk=run.trigger_event_id)
        .values_list("created_at", flat=True)
        .first()
        if run.trigger_event_id is not None
        else None
    )
    return created or run.created_at


def _seen_event_ids(run: AutomationRun) -> list[Any]:
    """The events this run already consumed: its trigger and its last resume."""
    seen: list[Any] = [run.trigger_event_id]
    if run.resume and run.resume.get("trigger_event_id"):
        seen.append(uuid.UUID(run.resume["trigger_event_id"]))
    return [pk for pk in seen if pk is not None]


def arrived_events(run: AutomationRun) -> QuerySet[TriggerEvent]:
    return (
        TriggerEvent.objects.filter(
            event=run.wait_event,
            context_key=run.wait_context_key,
            created_at__gte=run.wait_started_at,
        )
        .exclude(pk__in=_seen_event_ids(run))
        .order_by("created_at", "id")
    )


def resume_waiting_runs(event: TriggerEvent) -> int:
    """Wake every run waiting for ``event`` (its id and context key); called by the dispatcher."""
    resumed = 0
    waiting = AutomationRun.objects.filter(
        status=RunStatus.WAITING,
        wait_event=event.event,
        wait_context_key=event.context_key,
        wait_started_at__lte=event.created_at,
    )
    for run in waiting.select_for_update().order_by("created_at", "id"):
        if run.status == RunStatus.WAITING and event.pk not in _seen_event_ids(run):
            resume(run, event)
            resumed += 1
    return resumed


def resume(run: AutomationRun, event: TriggerEvent) -> None:
    now = timezone.now()
    run.resume = {
        "event": event.event,
        "payload": event.payload,
        "context_key": event.context_key,
        "trigger_event_id": str(event.pk),
        "created_at": event.created_at.isoformat(),
    }
    RunStep.objects.filter(run=run, position=run.step_index).update(
        status=StepStatus.SUCCESS,
        result={"resumed_by": str(event.pk), "event": event.event, "payload": event.payload},
        finished_at=now,
    )
    _leave_wait(run)
    touch(run, "resume", *_WAIT_FIELDS)
    enqueue_after_commit(run.pk)


_WAIT_FIELDS = (
    "status",
    "step_index",
    "step_attempts",
    "wait_event",
    "wait_context_key",
    "wait_started_at",
    "wait_until",
)


def _clear_wait(run: AutomationRun) -> None:
    run.status = RunStatus.RUNNING
    run.step_attempts = 0
    run.wait_event = ""
    run.wait_context_key = None
    run.wait_started_at = None
    run.wait_until = None


def _leave_wait(run: AutomationRun) -> None:
    _clear_wait(run)
    run.step_index += 1


def time_out(run: AutomationRun) -> None:
    definition = run.steps_snapshot[run.step_index]
    config = definition.get("config") or {}
    seconds = config.get("timeout_seconds")
    message = f"Timed out after {seconds} s waiting for {run.wait_event!r}"
    if config.get("continue_on_timeout") is True:
        RunStep.objects.filter(run=run, position=run.step_index).update(
            status=StepStatus.SUCCESS,
            result={"timed_out": True},
            error=message,
            finished_at=timezone.now(),
        )
        _leave_wait(run)
        touch(run, *_WAIT_FIELDS)
        enqueue_after_commit(run.pk)
        return
    _clear_wait(run)
    touch(run, *_WAIT_FIELDS)
    fail_step(run, run.step_index, message)
    if run.status == RunStatus.RUNNING:  # the step continues on error
        enqueue_after_commit(run.pk)
