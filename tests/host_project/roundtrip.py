"""One incident round trip through a host project's REST API; prints a JSON summary.

Run after ``python -m django migrate`` with ``DJANGO_SETTINGS_MODULE`` set to a host project
settings module and ``DATABASE_URL`` naming a throwaway database:
``python -m tests.host_project.roundtrip [system-id]``. Without ``catalog`` installed the
system id is not created first (and is not checked).
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import django


def request(client: Any, method: str, path: str, body: Any = None) -> dict[str, Any]:
    response = getattr(client, method)(path, body, content_type="application/json")
    return {
        "status": response.status_code,
        "body": json.loads(response.content) if response.content else None,
    }


def main(system_id: str) -> dict[str, Any]:
    django.setup()
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django_q.models import OrmQ, Schedule

    from checkstack.entities.models import Change, TriggerEvent

    summary: dict[str, Any] = {
        "vendor": connection.vendor,
        "catalog_installed": apps.is_installed("catalog"),
        "schedules": sorted(Schedule.objects.values_list("name", flat=True)),
    }
    client = Client()
    summary["anonymous_list"] = client.get("/ops/api/incidents/").status_code
    admin = get_user_model().objects.create_superuser("host-admin", "admin@example.com", "pw")
    client.force_login(admin)

    if summary["catalog_installed"]:
        summary["system"] = request(
            client, "post", "/ops/api/catalog/systems/", {"id": system_id, "name": "Database"}
        )
    created = request(
        client,
        "post",
        "/ops/api/incidents/",
        {"title": "Database down", "severity": "major", "system_ids": [system_id]},
    )
    summary["created"] = created
    incident_id = created["body"]["id"]
    summary["resolved"] = request(client, "post", f"/ops/api/incidents/{incident_id}/resolve/", {})
    history = request(client, "get", f"/ops/api/incidents/{incident_id}/history/")
    summary["history"] = [
        {"seq": c["seq"], "status": (c["next"] or {}).get("status")}
        for c in history["body"]["results"]
    ]
    events = TriggerEvent.objects.filter(
        change__kind="incident", change__entity_id=incident_id
    ).order_by("change__seq")
    summary["trigger_events"] = [e.event for e in events]
    summary["trigger_event_ids"] = [str(e.pk) for e in events]
    summary["request_ids"] = sorted(
        set(Change.objects.filter(entity_id=incident_id).values_list("request_id", flat=True))
        - {None, ""}
    )
    summary["enqueued_tasks"] = [{"key": q.key, "name": q.name()} for q in OrmQ.objects.all()]
    call_command("entities_sweep", "--inline", stdout=io.StringIO())
    summary["pending_trigger_events"] = TriggerEvent.objects.filter(
        dispatched_at__isnull=True
    ).count()
    summary["healthz"] = request(client, "get", "/ops/healthz")
    schema = client.get("/ops/api/schema/", HTTP_ACCEPT="application/json")
    summary["schema_paths"] = sorted(json.loads(schema.content)["paths"])
    summary["unknown_system"] = request(
        client,
        "post",
        "/ops/api/incidents/",
        {"title": "Ghost down", "severity": "minor", "system_ids": ["ghost-system"]},
    )["status"]
    summary["operator"] = operator_round_trip(system_id)
    return summary


def operator_round_trip(system_id: str) -> dict[str, Any]:
    """``create_operator`` as docs/install.md tells, then an incident created with its token."""
    from django.core.management import CommandError, call_command
    from django.test import Client

    out = io.StringIO()
    try:
        call_command("create_operator", "host-operator", stdout=out)
    except CommandError as exc:
        return {"error": str(exc)}
    lines = out.getvalue().splitlines()
    token = next(line.split(": ", 1)[1] for line in lines if line.startswith("API token:"))
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    return {
        "created": request(
            client,
            "post",
            "/ops/api/incidents/",
            {"title": "Cache slow", "severity": "minor", "system_ids": [system_id]},
        )["status"]
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "db")))
