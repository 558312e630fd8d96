"""Executing a run in a worker: claim its next step, execute it, until it finishes or waits.

Each step is claimed in one short transaction (the step row is marked ``running`` and its
attempt counted) and executed in a second one that holds the run's row lock, calls the action
and stores its result together with the action's own database writes. A live worker's claim is
its row lock, or (for an action outside the transaction) ``updated_at``, renewed during the
call; the recovery watch takes over a run with neither.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone

from checkstack.entities.masking import forget_run, register_run_secret

from .. import queueing
from ..actions import WAIT_FOR_TRIGGER
from ..conf import app_settings
from ..models import AutomationRun, RunStatus, RunStep, StepStatus
from ..registry import ActionDefinition, get_action
from .records import finish, run_uuid, touch
from .steps import call, prepare, record_result
from .waiting import start_waiting


class Progress(StrEnum):
    CONTINUE = "continue"
    BUSY = "busy"  # another worker holds the run
    DONE = "done"  # the run is in a final or waiting state


def execute_run(run_id: Any) -> str:
    """Execute the run's remaining steps in this process; returns the run's status."""
    pk = run_uuid(run_id)
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


def lock_run(pk: uuid.UUID) -> AutomationRun | None:
    return (
        AutomationRun.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=pk)
        .first()
    )


def _advance(pk: uuid.UUID) -> Progress:
    """Claim and execute the run's next step."""
    with transaction.atomic():
        run = lock_run(pk)
        if run is None:
            return Progress.BUSY
        claim = claim_step(run)
        if claim is None:
            return Progress.DONE
    index, attempts = claim
    step = run.steps_snapshot[index]
    action = get_action(step.get("action", ""))
    if action is not None and not action.transactional and action.id != WAIT_FOR_TRIGGER:
        return _execute_outside_transaction(pk, index, attempts, action)
    with transaction.atomic():
        run = lock_run(pk)
        if run is None or not _still_claimed(run, index, attempts):
            return Progress.BUSY if run is None else Progress.DONE
        config = prepare(run, index, action)
        if config is None:
            return _after_step(run)
        if action.id == WAIT_FOR_TRIGGER:  # type: ignore[union-attr]
            start_waiting(run, index, config)
            return _after_step(run)
        result = call(run, index, action, config)  # type: ignore[arg-type]
        record_result(run, index, action, result, config)  # type: ignore[arg-type]
        return _after_step(run)


def _execute_outside_transaction(
    pk: uuid.UUID, index: int, attempts: int, action: ActionDefinition
) -> Progress:
    run = AutomationRun.objects.filter(pk=pk).first()
    if run is None or not _still_claimed(run, index, attempts):
        return Progress.DONE
    config = prepare(run, index, action, save=False)
    result = None
    if config is not None:
        # No row lock is held during the call: renew the claim, so the recovery watch tells
        # this live worker from a dead one.
        with queueing.renewing(lambda: _renew(pk, index, attempts), name=f"run {pk}"):
            result = call(run, index, action, config)
    with transaction.atomic():
        run = lock_run(pk)
        if run is None or not _still_claimed(run, index, attempts):
            return Progress.BUSY if run is None else Progress.DONE
        if result is None or config is None:
            prepare(run, index, action)  # records the failure in this transaction
        else:
            record_result(run, index, action, result, config)
        return _after_step(run)


def _renew(pk: uuid.UUID, index: int, attempts: int) -> bool:
    """Mark progress of this claim of the step; False once it was taken over or cancelled."""
    return bool(
        AutomationRun.objects.filter(
            pk=pk, status=RunStatus.RUNNING, step_index=index, step_attempts=attempts
        ).update(updated_at=timezone.now())
    )


def claim_step(run: AutomationRun) -> tuple[int, int] | None:
    """Start (or restart after a crash) the run's current step; None when nothing to do."""
    now = timezone.now()
    if run.status == RunStatus.PENDING:
        run.status = RunStatus.RUNNING
        run.started_at = now
    elif run.status != RunStatus.RUNNING:
        return None
    index = run.step_index
    if index >= len(run.steps_snapshot):
        finish(run, RunStatus.SUCCESS)
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
        finish(run, RunStatus.FAILED, f"Step {step.step_id!r} failed: {step.error}")
        return None
    step.save()
    run.step_attempts = step.attempts
    touch(run, "status", "started_at", "step_attempts")
    return index, step.attempts


def _still_claimed(run: AutomationRun, index: int, attempts: int) -> bool:
    """Whether the run still waits for this claim of this step (not cancelled or resumed)."""
    return (
        run.status == RunStatus.RUNNING
        and run.step_index == index
        and run.step_attempts == attempts
    )


def _after_step(run: AutomationRun) -> Progress:
    if run.status != RunStatus.RUNNING:
        return Progress.DONE
    if run.step_index >= len(run.steps_snapshot):
        finish(run, RunStatus.SUCCESS)
        return Progress.DONE
    return Progress.CONTINUE
