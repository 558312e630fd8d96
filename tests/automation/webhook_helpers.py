"""Helpers of the webhook tests: trigger events and moving retries into the present."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.utils import timezone

from checkstack.automation.models import WebhookDelivery, WebhookDeliveryStatus
from checkstack.entities.models import TriggerEvent


def make_event(
    event: str = "incident.created",
    *,
    incident_id: str = "inc-1",
    system_ids: list[str] | None = None,
    **payload: Any,
) -> TriggerEvent:
    """A stored incident trigger event (context key = the incident id)."""
    data = {
        "incidentId": incident_id,
        "title": "Database down",
        "severity": "critical",
        "status": "investigating",
        "systemIds": system_ids if system_ids is not None else ["db"],
        **payload,
    }
    return TriggerEvent.objects.create(
        event=event,
        payload=data,
        context_key=incident_id,
        change_id=uuid.uuid4(),
        actor={"type": "system", "id": "system", "name": "System"},
        created_at=timezone.now(),
    )


def make_due(*deliveries: WebhookDelivery) -> int:
    """Make pending deliveries (all when none given) due now, as if their backoff passed."""
    rows = WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.PENDING)
    if deliveries:
        rows = rows.filter(pk__in=[d.pk for d in deliveries])
    return rows.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
