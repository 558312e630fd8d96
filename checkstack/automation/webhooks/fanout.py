"""Which deliveries a trigger event creates (endpoint subscriptions, system filters), and the
test ping; new deliveries are handed to the workers after COMMIT."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from checkstack.actors import ActorLike, to_actor
from checkstack.entities.models import TriggerEvent

from .. import queueing
from ..conf import app_settings
from ..models import WebhookDelivery, WebhookEndpoint, new_message_id
from .endpoints import ALL_EVENTS, get_endpoint
from .message import PING_EVENT

logger = logging.getLogger("checkstack.automation.webhooks")


def payload_system_ids(payload: Mapping[str, Any]) -> set[str]:
    """The systems an event concerns: ``systemIds`` (incidents) and ``systemId`` (catalog)."""
    ids: set[str] = set()
    many = payload.get("systemIds")
    if isinstance(many, (list, tuple)):
        ids.update(str(s) for s in many if isinstance(s, (str, int)))
    one = payload.get("systemId")
    if isinstance(one, (str, int)) and not isinstance(one, bool):
        ids.add(str(one))
    return ids


def _subscribes(endpoint: WebhookEndpoint, event: str, systems: set[str]) -> bool:
    events = endpoint.events if isinstance(endpoint.events, list) else []
    if ALL_EVENTS not in events and event not in events:
        return False
    wanted = endpoint.system_ids if isinstance(endpoint.system_ids, list) else []
    return not wanted or bool(systems.intersection(str(s) for s in wanted))


def create_deliveries_for_event(event: TriggerEvent) -> list[int]:
    """One delivery per enabled endpoint subscribed to ``event``; the new ids.

    Runs inside the dispatching transaction: a delivery that exists already (the event is
    dispatched again) is left alone, and the new ones are enqueued after COMMIT. Three queries
    whatever the number of endpoints.
    """
    payload = event.payload if isinstance(event.payload, dict) else {}
    systems = payload_system_ids(payload)
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(enabled=True)
        if _subscribes(e, event.event, systems)
    ]
    if not endpoints:
        return []
    now = timezone.now()
    rows = [
        WebhookDelivery(
            message_id=new_message_id(),
            endpoint=endpoint,
            trigger_event_id=event.pk,
            event_type=event.event,
            data=payload,
            ordering_key=event.context_key,
            max_attempts=app_settings.WEBHOOK_MAX_ATTEMPTS,
            next_attempt_at=now,
            created_at=event.created_at or now,
        )
        for endpoint in endpoints
    ]
    # ON CONFLICT DO NOTHING: no IntegrityError, no broken transaction on redispatch.
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(
        WebhookDelivery.objects.filter(message_id__in=[r.message_id for r in rows])
        .order_by("id")
        .values_list("id", flat=True)
    )
    queueing.enqueue_after_commit(queueing.WEBHOOK_TASK, ids)
    return ids


def ping(endpoint_id: str, *, actor: ActorLike = None) -> WebhookDelivery:
    """Queue a ``webhook.ping`` delivery (one attempt), also to a disabled endpoint."""
    endpoint = get_endpoint(endpoint_id)
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_type=PING_EVENT,
        data={"endpointId": str(endpoint.pk), "message": "Test ping from Checkstack"},
        max_attempts=1,
        next_attempt_at=now,
        created_at=now,
    )
    queueing.enqueue_after_commit(queueing.WEBHOOK_TASK, [delivery.pk])
    logger.info(
        "Ping %s queued for endpoint %s by %s", delivery.pk, endpoint.pk, to_actor(actor).get("id")
    )
    return delivery
