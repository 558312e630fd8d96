"""One step of a run: its rendered config, the action call, and recording what it returned.

Called by the engine inside the transaction that holds the run's row lock (or, for actions
with effects outside the database, around it).
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from typing import Any

from django.db import transaction
from django.utils import timezone
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from checkstack.entities.masking import mask_value, secrets_for

from ..conf import app_settings
from ..models import AutomationRun, RunArtifact, RunStatus, RunStep, StepStatus
from ..registry import ActionContext, ActionDefinition, ActionResult, get_artifact_type
from ..templating import TemplateFailure, render_value
from .records import MAX_ERROR, automation_actor, finish, touch

logger = logging.getLogger("checkstack.automation.runs")


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


def prepare(
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
            problem = f"Config is invalid after rendering: {pydantic_message(exc)}"
    if save:
        fail_step(run, index, problem)
    return None


def pydantic_message(exc: PydanticValidationError) -> str:
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


def call(
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
    # An action outside the step's transaction (an HTTP call) holds none while it waits on the
    # network: on SQLite that would block every writer, the claim's heartbeat included.
    scope: contextlib.AbstractContextManager[Any] = (
        transaction.atomic() if action.transactional else contextlib.nullcontext()
    )
    try:
        with scope:
            result = action.run(ctx, config)
    except Exception as exc:  # an action's bug fails its step, not the worker
        logger.warning("Action %s of run %s raised", action.id, run.pk, exc_info=True)
        text = "".join(traceback.format_exception_only(exc)).strip()
        return ActionResult(success=False, error=f"The action raised {text}")
    if not isinstance(result, ActionResult):
        return ActionResult(success=False, error=f"Action {action.id!r} returned {result!r}")
    return result


def record_result(
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
        fail_step(
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
    touch(run, "step_index", "step_attempts")


def _artifact_problem(action: ActionDefinition, artifact: dict[str, Any]) -> str | None:
    if not action.produces:
        return None
    definition = get_artifact_type(action.produces)
    if definition is None:
        return f"Artifact type {action.produces!r} is not registered"
    try:
        definition.schema.model_validate(artifact)
    except PydanticValidationError as exc:
        return f"The {action.produces!r} artifact is invalid: {pydantic_message(exc)}"
    return None


def fail_step(
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
        touch(run, "step_index", "step_attempts")
        return
    finish(run, RunStatus.FAILED, f"Step {definition.get('id')!r} failed: {error}")
