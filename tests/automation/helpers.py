"""Helpers of the automation tests: valid definitions and permission grants."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission


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
