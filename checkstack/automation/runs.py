"""Runs of automations: creation, step execution in a worker, wait/resume, cancel, recovery.

A run executes its steps in order. Each step is claimed in one short transaction (the step
row is marked ``running`` and its attempt counted) and executed in a second one that holds
the run's row lock, calls the action and stores its result together with the action's own
database writes. A worker killed during a step rolls that second transaction back, so a step
whose effects are database writes takes effect exactly once; the sweeper resumes the run,
and a step interrupted ``STEP_MAX_ATTEMPTS`` times fails the run instead of looping.
Actions with effects outside the database (``transactional=False``, e.g. ``webhook.send``) run
outside that transaction: at least once, with a stable webhook-id for the receiver.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
import uuid
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from checkstack.actors import ActorLike
from checkstack.entities.conf import app_settings as entity_settings
from checkstack.entities.masking import forget_run, mask_value, register_run_secret, secrets_for
from checkstack.entities.models import TriggerEvent
from checkstack.errors import Conflict, NotFound

from .actions import WAIT_FOR_TRIGGER, WaitForTriggerConfig
from .conf import app_settings
from .models import (
    ACTIVE_RUN_STATUSES,
    Automation,
    AutomationRun,
    RunArtifact,
    RunStatus,
    RunStep,
    StepStatus,
)
from .registry import ActionContext, ActionDefinition, ActionResult, get_action, get_artifact_type
from .templating import TemplateFailure, render_value

logger = logging.getLogger("checkstack.automation.runs")

MAX_ERROR = 4000


def _uuid(value: Any) -> uuid.UUID | None:
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
    pk = _uuid(run_id)
    run = AutomationRun.objects.filter(pk=pk).first() if pk else None
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    return run


def cancel_run(run_id: Any, *, actor: ActorLike = None, reason: str = "") -> AutomationRun:
    """Stop an active run: no further step starts. A finished run cannot be cancelled (409)."""
    pk = _uuid(run_id)
    with transaction.atomic():
        run = AutomationRun.objects.select_for_update().filter(pk=pk).first() if pk else None
        if run is None:
            raise NotFound(f"Run {run_id} not found")
        if run.status not in ACTIVE_RUN_STATUSES:
            raise Conflict(f"Run {run_id} is already {run.status}")
        _cancel(run, reason or "Cancelled by an operator")
    return run


def _cancel(run: AutomationRun, reason: str) -> None:
    now = timezone.now()
    run.steps.filter(status__in=[StepStatus.RUNNING, StepStatus.WAITING]).update(
        status=StepStatus.CANCELLED, finished_at=now
    )
    run.status = RunStatus.CANCELLED
    run.error = reason
    run.finished_at = now
    run.updated_at = now
    run.save(update_fields=["status", "error", "finished_at", "updated_at"])


# -- creation (called by the dispatcher) ----------------------------------------------------


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
    from checkstack.entities.outbox import enqueue_tasks

    from .tasks import RUN_TASK

    if entity_settings.ENQUEUE:
        transaction.on_commit(lambda: enqueue_tasks([(RUN_TASK, str(run_id))]), robust=True)


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
        _cancel(run, reason)
        cancelled += 1
    return cancelled


# -- execution ------------------------------------------------------------------------------


class Progress(StrEnum):
    CONTINUE = "continue"
    BUSY = "busy"  # another worker holds the run
    DONE = "done"  # the run is in a final or waiting state


def execute_run(run_id: Any) -> str:
    """Execute the run's remaining steps in this process; returns the run's status."""
    pk = _uuid(run_id)
    if pk is None:
        return "missing"
    for secret in app_settings.SECRETS.values():
        register_run_secret(str(pk), secret)
    try:
        while True:
            progress = _advance(pk)
            if progress is not Progress.CONTINUE:
                break
    finally:
        forget_run(str(pk))
    status = AutomationRun.objects.filter(pk=pk).values_list("status", flat=True).first()
    return str(status or "missing") if progress is not Progress.BUSY else "busy"


def _lock(pk: uuid.UUID) -> AutomationRun | None:
    return (
        AutomationRun.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=pk)
        .first()
    )


def _advance(pk: uuid.UUID) -> Progress:
    """Claim and execute the run's next step."""
    with transaction.atomic():
        run = _lock(pk)
        if run is None:
            return Progress.BUSY
        claim = _claim_step(run)
        if claim is None:
            return Progress.DONE
    index, attempts = claim
    step = run.steps_snapshot[index]
    action = get_action(step.get("action", ""))
    if action is not None and not action.transactional and action.id != WAIT_FOR_TRIGGER:
        return _execute_outside_transaction(pk, index, attempts, action)
    with transaction.atomic():
        run = _lock(pk)
        if run is None or not _still_claimed(run, index, attempts):
            return Progress.BUSY if run is None else Progress.DONE
        config = _prepare(run, index, action)
        if config is None:
            return _after_step(run)
        if action.id == WAIT_FOR_TRIGGER:  # type: ignore[union-attr]
            _start_waiting(run, index, config)
            return _after_step(run)
        result = _call(run, index, action, config)  # type: ignore[arg-type]
        _record(run, index, action, result, config)  # type: ignore[arg-type]
        return _after_step(run)


def _execute_outside_transaction(
    pk: uuid.UUID, index: int, attempts: int, action: ActionDefinition
) -> Progress:
    run = AutomationRun.objects.filter(pk=pk).first()
    if run is None or not _still_claimed(run, index, attempts):
        return Progress.DONE
    config = _prepare(run, index, action, save=False)
    result = _call(run, index, action, config) if config is not None else None
    with transaction.atomic():
        run = _lock(pk)
        if run is None or not _still_claimed(run, index, attempts):
            return Progress.BUSY if run is None else Progress.DONE
        if result is None or config is None:
            _prepare(run, index, action)  # records the failure in this transaction
        else:
            _record(run, index, action, result, config)
        return _after_step(run)


def _claim_step(run: AutomationRun) -> tuple[int, int] | None:
    """Start (or restart after a crash) the run's current step; None when nothing to do."""
    now = timezone.now()
    if run.status == RunStatus.PENDING:
        run.status = RunStatus.RUNNING
        run.started_at = now
    elif run.status != RunStatus.RUNNING:
        return None
    index = run.step_index
    if index >= len(run.steps_snapshot):
        _finish(run, RunStatus.SUCCESS)
        return None
    definition = run.steps_snapshot[index]
    step, _ = RunStep.objects.get_or_create(
        run=run,
        position=index,
        defaults={
            "step_id": definition.get("id", f"#{index + 1}"),
            "action": definition.get("action", ""),
            "status": StepStatus.RUNNING,
        },
    )
    step.attempts += 1
    step.status = StepStatus.RUNNING
    step.started_at = now
    if step.attempts > app_settings.STEP_MAX_ATTEMPTS:
        step.status = StepStatus.FAILED
        step.error = (
            f"The step was interrupted {step.attempts - 1} times (worker crash or restart); "
            "not starting it again."
        )
        step.finished_at = now
        step.save()
        _finish(run, RunStatus.FAILED, f"Step {step.step_id!r} failed: {step.error}")
        return None
    step.save()
    run.step_attempts = step.attempts
    _touch(run, "status", "started_at", "step_attempts")
    return index, step.attempts


def _still_claimed(run: AutomationRun, index: int, attempts: int) -> bool:
    """Whether the run still waits for this claim of this step (not cancelled or resumed)."""
    return (
        run.status == RunStatus.RUNNING
        and run.step_index == index
        and run.step_attempts == attempts
    )


def _scope(run: AutomationRun) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for step in run.steps.filter(position__lt=run.step_index).order_by("position"):
        steps[step.step_id] = {"status": step.status, "result": step.result, "error": step.error}
    artifacts: dict[str, dict[str, Any]] = {}
    for artifact in run.artifacts.order_by("created_at", "id"):
        artifacts.setdefault(artifact.step_id, {})[artifact.type] = artifact.data
    return {
        "trigger": {
            "event": run.event,
            "payload": run.payload,
            "actor": run.actor,
            "context_key": run.context_key,
        },
        "steps": steps,
        "artifacts": artifacts,
        "resume": run.resume,
        "run": {"id": str(run.pk), "automation_id": run.automation_id},
        "secrets": app_settings.SECRETS,
    }


def _prepare(
    run: AutomationRun, index: int, action: ActionDefinition | None, *, save: bool = True
) -> BaseModel | None:
    """The step's rendered, validated config; None after recording why there is none."""
    definition = run.steps_snapshot[index]
    if action is None:
        problem = f"Action {definition.get('action')!r} is not registered in this process"
    else:
        try:
            rendered = render_value(
                definition.get("config") or {}, _scope(run), where=f"config of {definition['id']!r}"
            )
            return action.config_schema.model_validate(rendered)
        except TemplateFailure as exc:
            problem = f"Template failed: {exc}"
        except PydanticValidationError as exc:
            problem = f"Config is invalid after rendering: {_pydantic_message(exc)}"
    if save:
        _fail_step(run, index, problem)
    return None


def _pydantic_message(exc: PydanticValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error.get('loc', ())) or 'config'}: {error['msg']}"
        for error in exc.errors()
    )


def _consumed(run: AutomationRun, action: ActionDefinition) -> dict[str, list[dict[str, Any]]]:
    """Artifacts of each consumed type, newest first: this automation's for this context key
    (this run's when it has none), then the one the trigger's payload supplies."""
    consumed: dict[str, list[dict[str, Any]]] = {}
    for artifact_type in action.consumes:
        found = RunArtifact.objects.filter(automation_id=run.automation_id, type=artifact_type)
        found = (
            found.filter(context_key=run.context_key)
            if run.context_key is not None
            else found.filter(run=run)
        )
        items = list(found.order_by("-created_at", "-id").values_list("data", flat=True)[:20])
        supplied = _supplied_by_trigger(run, artifact_type)
        if supplied is not None:
            items.append(supplied)
        consumed[artifact_type] = items
    return consumed


def _supplied_by_trigger(run: AutomationRun, artifact_type: str) -> dict[str, Any] | None:
    """The artifact the trigger payload itself describes (``incident.*`` → ``incident``)."""
    definition = get_artifact_type(artifact_type)
    if definition is None or run.event.split(".", 1)[0] != artifact_type:
        return None
    try:
        return definition.schema.model_validate(run.payload).model_dump(mode="json")
    except PydanticValidationError:
        return None


def _call(
    run: AutomationRun, index: int, action: ActionDefinition, config: BaseModel
) -> ActionResult:
    definition = run.steps_snapshot[index]
    ctx = ActionContext(
        run_id=str(run.pk),
        context_key=run.context_key,
        actor=automation_actor(run.automation),
        step_id=definition["id"],
        consumed_artifacts=_consumed(run, action),
    )
    try:
        with transaction.atomic():
            result = action.run(ctx, config)
    except Exception as exc:  # an action's bug fails its step, not the worker
        logger.warning("Action %s of run %s raised", action.id, run.pk, exc_info=True)
        text = "".join(traceback.format_exception_only(exc)).strip()
        return ActionResult(success=False, error=f"The action raised {text}")
    if not isinstance(result, ActionResult):
        return ActionResult(success=False, error=f"Action {action.id!r} returned {result!r}")
    return result


def _record(
    run: AutomationRun,
    index: int,
    action: ActionDefinition,
    result: ActionResult,
    config: BaseModel,
) -> None:
    definition = run.steps_snapshot[index]
    secrets = secrets_for(str(run.pk))
    failed = not result.success
    error = result.error or "The action reported a failure"
    artifact = result.artifact
    if not failed and artifact is not None:
        problem = _artifact_problem(action, artifact)
        if problem:
            failed, error = True, problem
    masked_config = mask_value(config.model_dump(mode="json"), secrets)
    if failed:
        _fail_step(
            run,
            index,
            error,
            result={"success": False, "external_id": result.external_id},
            config=masked_config,
        )
        return
    masked_artifact = mask_value(artifact, secrets) if artifact is not None else None
    now = timezone.now()
    RunStep.objects.filter(run=run, position=index).update(
        status=StepStatus.SUCCESS,
        config=masked_config,
        result=mask_value(
            {"success": True, "external_id": result.external_id, "artifact": masked_artifact},
            secrets,
        ),
        error="",
        finished_at=now,
    )
    if masked_artifact is not None and action.produces:
        RunArtifact.objects.create(
            run=run,
            automation_id=run.automation_id,
            context_key=run.context_key,
            step_id=definition["id"],
            type=action.produces,
            data=masked_artifact,
            external_id=mask_value(result.external_id, secrets),
            created_at=now,
        )
    run.step_index = index + 1
    run.step_attempts = 0
    _touch(run, "step_index", "step_attempts")


def _artifact_problem(action: ActionDefinition, artifact: dict[str, Any]) -> str | None:
    if not action.produces:
        return None
    definition = get_artifact_type(action.produces)
    if definition is None:
        return f"Artifact type {action.produces!r} is not registered"
    try:
        definition.schema.model_validate(artifact)
    except PydanticValidationError as exc:
        return f"The {action.produces!r} artifact is invalid: {_pydantic_message(exc)}"
    return None


def _fail_step(
    run: AutomationRun,
    index: int,
    error: str,
    *,
    result: dict[str, Any] | None = None,
    config: Any = None,
) -> None:
    """Record a failed step; the run fails unless the step continues on error."""
    definition = run.steps_snapshot[index]
    error = mask_value(error, secrets_for(str(run.pk)))[:MAX_ERROR]
    RunStep.objects.filter(run=run, position=index).update(
        status=StepStatus.FAILED,
        error=error,
        result=result,
        config=config,
        finished_at=timezone.now(),
    )
    if definition.get("continue_on_error"):
        run.step_index = index + 1
        run.step_attempts = 0
        _touch(run, "step_index", "step_attempts")
        return
    _finish(run, RunStatus.FAILED, f"Step {definition.get('id')!r} failed: {error}")


def _after_step(run: AutomationRun) -> Progress:
    if run.status != RunStatus.RUNNING:
        return Progress.DONE
    if run.step_index >= len(run.steps_snapshot):
        _finish(run, RunStatus.SUCCESS)
        return Progress.DONE
    return Progress.CONTINUE


def _finish(run: AutomationRun, status: RunStatus, error: str = "") -> None:
    run.status = status
    run.error = error[:MAX_ERROR]
    run.finished_at = timezone.now()
    _touch(run, "status", "error", "finished_at")


def _touch(run: AutomationRun, *fields: str) -> None:
    run.updated_at = timezone.now()
    run.save(update_fields=[*fields, "updated_at"])


# -- wait_for_trigger -----------------------------------------------------------------------


def _start_waiting(run: AutomationRun, index: int, config: BaseModel) -> None:
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
    _touch(run, "status", "wait_event", "wait_context_key", "wait_started_at", "wait_until")
    # The awaited event may have committed while this step ran: look once now, too.
    arrived = _arrived_events(run).first()
    if arrived is not None:
        _resume(run, arrived)


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


def _arrived_events(run: AutomationRun) -> QuerySet[TriggerEvent]:
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
            _resume(run, event)
            resumed += 1
    return resumed


def _resume(run: AutomationRun, event: TriggerEvent) -> None:
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
    _touch(run, "resume", *_WAIT_FIELDS)
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


def _time_out(run: AutomationRun) -> None:
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
        _touch(run, *_WAIT_FIELDS)
        enqueue_after_commit(run.pk)
        return
    _clear_wait(run)
    _touch(run, *_WAIT_FIELDS)
    _fail_step(run, run.step_index, message)
    if run.status == RunStatus.RUNNING:  # the step continues on error
        enqueue_after_commit(run.pk)


# -- recovery -------------------------------------------------------------------------------


def sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Time out waits, wake runs whose event slipped past them, re-enqueue stalled runs."""
    from checkstack.entities.outbox import enqueue_tasks

    from .tasks import RUN_TASK

    now = now or timezone.now()
    timed_out = resumed = 0
    batch = entity_settings.SWEEP_BATCH
    expired = AutomationRun.objects.filter(status=RunStatus.WAITING, wait_until__lte=now)
    for pk in list(expired.values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            run = _lock(pk)
            due = run is not None and run.wait_until is not None and run.wait_until <= now
            if run is not None and due and run.status == RunStatus.WAITING:
                _time_out(run)
                timed_out += 1
    arrived = TriggerEvent.objects.filter(
        event=OuterRef("wait_event"),
        context_key=OuterRef("wait_context_key"),
        created_at__gte=OuterRef("wait_started_at"),
    )
    missed = AutomationRun.objects.filter(status=RunStatus.WAITING).filter(Exists(arrived))
    for pk in list(missed.values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            run = _lock(pk)
            event = _arrived_events(run).first() if run is not None else None
            if run is not None and run.status == RunStatus.WAITING and event is not None:
                _resume(run, event)
                resumed += 1
    stale = AutomationRun.objects.filter(
        status__in=[RunStatus.PENDING, RunStatus.RUNNING],
        updated_at__lte=now - dt.timedelta(seconds=app_settings.RUN_STALE_SECONDS),
    )
    stale_ids = [str(pk) for pk in stale.values_list("pk", flat=True)[:batch]]
    if entity_settings.ENQUEUE:
        enqueue_tasks([(RUN_TASK, pk) for pk in stale_ids])
    if timed_out or resumed or stale_ids:
        logger.info(
            "Run sweep: %s timed out, %s resumed, %s stalled re-enqueued",
            timed_out,
            resumed,
            len(stale_ids),
        )
    return {"runs_timed_out": timed_out, "runs_resumed": resumed, "runs_stalled": len(stale_ids)}


def execute_due_inline() -> int:
    """Execute every pending or running run in this process until none is left (for operators
    without a worker, and for tests). Returns how many executions ran."""
    executed = 0
    seen: set[uuid.UUID] = set()
    while True:
        pks = list(
            AutomationRun.objects.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING])
            .exclude(pk__in=seen)
            .order_by("created_at", "id")
            .values_list("pk", flat=True)[:500]
        )
        if not pks:
            return executed
        for pk in pks:
            execute_run(pk)
            executed += 1
            if AutomationRun.objects.filter(
                pk=pk, status__in=[RunStatus.PENDING, RunStatus.RUNNING]
            ).exists():
                seen.add(pk)  # busy elsewhere; do not spin on it
