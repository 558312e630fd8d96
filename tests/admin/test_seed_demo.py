"""``manage.py seed_demo``: demo data through the services, idempotent, and the admin shows it."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from catalog.models import Group, System
from checkstack.entities.models import Change, TriggerEvent
from incidents.models import Incident, IncidentLink, IncidentUpdate

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    models = (System, Group, Incident, IncidentUpdate, IncidentLink, Change, TriggerEvent)
    return {model.__name__: model.objects.count() for model in models}


def test_seed_demo_creates_systems_a_group_and_incidents_in_several_states() -> None:
    output = seed()

    assert sorted(System.objects.values_list("pk", flat=True)) == [
        "api",
        "auth",
        "database",
        "queue",
        "web",
    ]
    group = Group.objects.get(name="Core platform")
    assert group.systems.count() >= 2
    states = {i.title: (i.status, i.severity) for i in Incident.objects.all()}
    assert sorted(status for status, _ in states.values()) == [
        "investigating",
        "monitoring",
        "resolved",
    ]
    assert ("investigating", "critical") in states.values()
    monitoring = Incident.objects.get(status="monitoring")
    visibilities = set(monitoring.updates.values_list("visibility", flat=True))
    assert {"public", "logged_in", "internal"} <= visibilities
    assert monitoring.updates.count() >= 3
    assert monitoring.links.count() == 1
    critical = Incident.objects.get(severity="critical")
    assert critical.updates.filter(status_change="investigating").count() == 1
    # Written through the services, by the system actor: each incident has a logged history.
    for incident in Incident.objects.all():
        changes = Change.objects.filter(kind="incident", entity_id=incident.pk)
        assert changes.filter(seq=1, prev__isnull=True).exists()
        assert {c.actor["type"] for c in changes} == {"system"}
    assert Change.objects.filter(kind="catalog-system").count() == 5
    assert "Created incident 'Delayed background jobs' (monitoring)." in output


def test_seed_demo_twice_creates_nothing_new() -> None:
    seed()
    counts = row_counts()

    output = seed()

    assert row_counts() == counts
    assert output.strip().splitlines() == [
        "Demo data already exists; nothing created.",
        "Demo maintenance and subscribers already exist; nothing created.",
    ]


def test_admin_pages_render_with_the_demo_data(admin_client: Client) -> None:
    seed()

    changelist = admin_client.get("/admin/incidents/incident/")
    assert changelist.status_code == 200
    page = changelist.content.decode()
    assert "Delayed background jobs" in page
    assert "Job queue (queue)" in page
    for incident in Incident.objects.all():
        assert (
            admin_client.get(f"/admin/incidents/incident/{incident.pk}/change/").status_code == 200
        )
    assert admin_client.get("/admin/catalog/system/").status_code == 200
    assert admin_client.get("/admin/catalog/group/core-platform/change/").status_code == 200
    assert admin_client.get("/admin/catalog/system/queue/change/").status_code == 200


def test_seed_demo_wires_the_critical_incident_automation_and_a_webhook_endpoint() -> None:
    from checkstack.automation.models import Automation, AutomationRun, WebhookEndpoint
    from checkstack.entities.delivery import sweep_inline

    seed()
    seed()  # idempotent
    automation = Automation.objects.get()
    assert automation.trigger["event"] == "incident.created"
    assert [step["action"] for step in automation.steps] == ["webhook.send", "incident.add_update"]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url.startswith("http://127.0.0.1:8001/")
    sweep_inline()
    # Only the critical demo incident matches the filter.
    critical = Incident.objects.get(severity="critical")
    assert list(AutomationRun.objects.values_list("context_key", flat=True)) == [critical.pk]
    assert endpoint.deliveries.filter(event_type="incident.created").count() == 3


def test_seed_demo_skips_the_local_webhooks_when_private_urls_are_refused(settings: Any) -> None:
    from checkstack.automation.models import Automation, WebhookEndpoint

    settings.CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = False
    output = seed()
    assert "CHECKSTACK_WEBHOOK_ALLOW_PRIVATE=1" in output
    assert not Automation.objects.exists() and not WebhookEndpoint.objects.exists()
    assert Incident.objects.count() == 3
