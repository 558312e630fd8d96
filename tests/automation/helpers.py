"""Helpers of the automation tests: valid definitions and permission grants."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission
from django.utils import timezone

from checkstack.automation.models import AutomationRun, RunArtifact, RunStep


def note_step(step_id: str = "note", **config: Any) -> dict[str, Any]:
    """An ``incident.add_update`` step (consumes an incident, produces an incident update)."""
    return {"id": step_id, "action": "incident.add_update", "config": {"message": "Seen", **config}}


def critical_incident_definition() -> dict[str, Any]:
    """The automation.md example without the webhook: critical incident → timeline note."""
    return {
        "name": "Critical incident note",
        "trigger": {
            "event": "incident.created",
            "filter": "trigger.payload.severity == 'critical'",
        },
        "steps": [note_step(message="Paged on-call for {{ trigger.payload.title }}")],
    }


def grant(user: Any, permission: str) -> Any:
    app_label, codename = permission.split(".")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    return user


def make_run(
    automation: Any, *, status: str = "running", steps: int = 1, **fields: Any
) -> AutomationRun:
    """A run of ``automation`` written with the ORM: ``steps`` recorded note steps, each with
    an incident-update artifact (the engine is not involved)."""
    now = timezone.now()
    finished = status not in ("pending", "running", "waiting")
    fields.setdefault("event", "incident.created")
    fields.setdefault("context_key", "incident:inc-1")
    run = AutomationRun.objects.create(
        automation=automation,
        status=status,
        started_at=now,
        finished_at=now if finished else None,
        **fields,
    )
    for position in range(steps):
        step_id = f"note{position}"
        last = position == steps - 1
        RunStep.objects.create(
            run=run,
            position=position,
            step_id=step_id,
            action="incident.add_update",
            status="running" if last and not finished else "success",
            result={"update_id": f"upd-{position}"},
            started_at=now,
            finished_at=None if last and not finished else now,
        )
        RunArtifact.objects.create(
            run=run,
            automation=automation,
            context_key=run.context_key,
            step_id=step_id,
            type="incident.update",
            data={"update_id": f"upd-{position}"},
            external_id=f"upd-{position}",
        )
    return run
