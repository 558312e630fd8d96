"""The automation.md example end to end: API → entity → qcluster → run → signed webhook.

A real ``manage.py qcluster`` (2 workers; on the ORM broker and on Redis) against the PostgreSQL
test database; the receiver is a local HTTP server; the signature is checked with the Standard
Webhooks reference library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from checkstack.automation import services
from checkstack.automation.models import AutomationRun, RunStatus
from checkstack.automation.signing import generate_secret
from checkstack.entities.models import TriggerEvent
from incidents.models import IncidentUpdate
from tests.api.helpers import make_user
from tests.automation.receiver import WebhookReceiver
from tests.incidents.helpers import make_systems
from tests.qcluster import Broker, running_qcluster, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def page_and_note(url: str) -> dict[str, Any]:
    return {
        "name": "Critical incident → webhook + timeline note",
        "trigger": {
            "event": "incident.created",
            "filter": "trigger.payload.severity == 'critical'",
        },
        "steps": [
            {
                "id": "page",
                "action": "webhook.send",
                "config": {
                    "url": url,
                    "secret": "{{ secrets.PAGER_SECRET }}",
                    "event_type": "incident.page",
                    "body": '{"incident": {{ trigger.payload.incidentId|tojson }}, '
                    '"title": {{ trigger.payload.title|tojson }}}',
                },
            },
            {
                "id": "note",
                "action": "incident.add_update",
                "config": {"message": "Paged on-call ({{ steps.page.result.external_id }})"},
            },
        ],
    }


def test_critical_incident_created_through_the_api_pages_once_with_a_valid_signature(
    settings: Any, tmp_path: Path, broker: Broker
) -> None:
    settings.CHECKSTACK_ENQUEUE = True
    secret = generate_secret()
    make_systems("db")
    client = APIClient()
    client.force_authenticate(make_user("oncall", is_superuser=True))
    with WebhookReceiver() as receiver:
        services.create_automation(**page_and_note(receiver.url))
        log = tmp_path / "qcluster.log"
        with running_qcluster(log, broker, CHECKSTACK_SECRET_PAGER_SECRET=secret) as cluster:
            response = client.post(
                "/api/incidents/",
                {"title": "DB down", "severity": "critical", "system_ids": ["db"]},
                format="json",
            )
            assert response.status_code == 201, response.content
            incident_id = response.json()["id"]
            finished = wait_for(
                lambda: AutomationRun.objects.filter(
                    status__in=[RunStatus.SUCCESS, RunStatus.FAILED]
                ).exists(),
                timeout=60,
            )
            minor = client.post(
                "/api/incidents/",
                {"title": "Slow", "severity": "minor", "system_ids": ["db"]},
                format="json",
            )
            assert minor.status_code == 201
            wait_for(
                lambda: not TriggerEvent.objects.filter(dispatched_at__isnull=True).exists(),
                timeout=60,
            )
            alive = cluster.poll() is None
        output = log.read_text(errors="replace")[-4000:]
        assert alive and finished, f"qcluster output:\n{output}"
        run = AutomationRun.objects.get()
        assert run.status == RunStatus.SUCCESS, run.error
        assert run.context_key == incident_id
        (request,) = receiver.requests
    Webhook(secret).verify(request.body, request.headers)  # raises if the signature is wrong
    assert request.json() == {"incident": incident_id, "title": "DB down"}
    note = IncidentUpdate.objects.get(incident_id=incident_id)
    assert note.message == f"Paged on-call ({request.headers['webhook-id']})"
    # The minor incident was dispatched and matched nothing.
    assert AutomationRun.objects.count() == 1
    assert secret not in str(list(run.steps.values_list("config", "result", "error")))


def test_the_worker_that_dispatches_an_event_sends_its_webhook_without_another_task(
    settings: Any, tmp_path: Path, broker: Broker
) -> None:
    """One queue hop (``CHECKSTACK_ONE_HOP``): the delivery is sent in the task that dispatched
    its trigger event; no ``send_webhook`` task is queued or run for it."""
    from django_q.models import OrmQ, Task

    from checkstack.automation import webhooks
    from checkstack.automation.models import WebhookDelivery, WebhookDeliveryStatus
    from incidents.services import create_incident

    settings.CHECKSTACK_ENQUEUE = True
    make_systems("db")
    with WebhookReceiver() as receiver:
        webhooks.create_endpoint(url=receiver.url, events=["incident.created"])
        log = tmp_path / "qcluster.log"
        with running_qcluster(log, broker) as cluster:
            incident = create_incident(title="DB down", severity="critical", system_ids=["db"])
            sent = wait_for(
                lambda: WebhookDelivery.objects.filter(
                    status=WebhookDeliveryStatus.SUCCESS
                ).exists(),
                timeout=60,
            )
            event = TriggerEvent.objects.get(event="incident.created", context_key=incident.pk)
            dispatched = wait_for(
                lambda: Task.objects.filter(name=f"dispatch_trigger_event:{event.pk}").exists(),
                timeout=10,
            )
            alive = cluster.poll() is None
        output = log.read_text(errors="replace")[-4000:]
        assert alive and sent and dispatched, f"qcluster output:\n{output}"
    delivery = WebhookDelivery.objects.get()
    assert len(receiver.requests) == 1
    assert delivery.attempts == 1
    webhook_tasks = [f"send_webhook:{delivery.pk}"]
    assert not Task.objects.filter(name__in=webhook_tasks).exists()
    # nothing queued for it either (ORM broker)
    assert [q for q in OrmQ.objects.all() if q.task.get("name") in webhook_tasks] == []
