"""Webhook endpoints: what an endpoint accepts (URL through the SSRF check, events, systems),
creating, changing and deleting one, and reading its delivery records."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet

from checkstack.actors import ActorLike, to_actor
from checkstack.errors import NotFound
from checkstack.validation import UNSET, Errors, clean_id_list

from .. import http
from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ..registry import get_trigger
from ..signing import generate_secret

logger = logging.getLogger("checkstack.automation.webhooks")

ALL_EVENTS = "*"
MAX_DESCRIPTION = 2000
MAX_EVENTS = 200


def _clean_url(errors: Errors, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.add("url", "This field may not be blank.")
        return ""
    value = value.strip()
    if errors.unstorable("url", value):
        return value
    problem = http.check_url(value)
    if problem is not None:
        errors.add("url", problem)
    return value


def _clean_events(errors: Errors, value: Any) -> list[str]:
    if value is None:
        return [ALL_EVENTS]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        errors.add("events", 'Must be a list of trigger ids, or ["*"] for every event.')
        return []
    if errors.unstorable("events", value):
        return []
    events = list(dict.fromkeys(v.strip() for v in value))
    if not events:
        errors.add("events", 'Give at least one trigger id, or "*" for every event.')
    if len(events) > MAX_EVENTS:
        errors.add("events", f"Give at most {MAX_EVENTS} trigger ids.")
    for event in events:
        if event != ALL_EVENTS and get_trigger(event) is None:
            errors.add("events", f"{event!r} is not a registered trigger.")
    return events


def _clean_description(errors: Errors, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add("description", "Must be a string.")
        return ""
    errors.unstorable("description", value)
    if len(value) > MAX_DESCRIPTION:
        errors.add(
            "description", f"Ensure this field has no more than {MAX_DESCRIPTION} characters."
        )
    return value.strip()


def _clean_enabled(errors: Errors, value: Any) -> bool:
    if not isinstance(value, bool):
        errors.add("enabled", "Must be true or false.")
        return False
    return value


def _clean_system_ids(errors: Errors, value: Any) -> list[str]:
    if value is None:
        return []
    return clean_id_list(errors, "system_ids", value)


def create_endpoint(
    *,
    url: Any,
    events: Any = None,
    system_ids: Any = None,
    description: Any = "",
    enabled: Any = True,
    actor: ActorLike = None,
) -> WebhookEndpoint:
    """Create an endpoint with a new signing secret (``events`` default ``["*"]``)."""
    errors = Errors()
    endpoint = WebhookEndpoint(
        url=_clean_url(errors, url),
        events=_clean_events(errors, events),
        system_ids=_clean_system_ids(errors, system_ids),
        description=_clean_description(errors, description),
        enabled=_clean_enabled(errors, enabled),
        secret=generate_secret(),
    )
    errors.raise_if_any()
    endpoint.save()
    logger.info("Webhook endpoint %s created by %s", endpoint.pk, to_actor(actor).get("id"))
    return endpoint


def _endpoint_pk(endpoint_id: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(endpoint_id))
    except (TypeError, ValueError, AttributeError):
        raise NotFound(f"Webhook endpoint {endpoint_id} not found") from None


def update_endpoint(
    endpoint_id: str,
    *,
    url: Any = UNSET,
    events: Any = UNSET,
    system_ids: Any = UNSET,
    description: Any = UNSET,
    enabled: Any = UNSET,
    actor: ActorLike = None,
) -> WebhookEndpoint:
    """Change the given fields; enabling a disabled endpoint clears its failure record."""
    pk = _endpoint_pk(endpoint_id)
    errors = Errors()
    changes: dict[str, Any] = {}
    if url is not UNSET:
        changes["url"] = _clean_url(errors, url)
    if events is not UNSET:
        changes["events"] = _clean_events(errors, events)
    if system_ids is not UNSET:
        changes["system_ids"] = _clean_system_ids(errors, system_ids)
    if description is not UNSET:
        changes["description"] = _clean_description(errors, description)
    if enabled is not UNSET:
        changes["enabled"] = _clean_enabled(errors, enabled)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=pk).first()
        if endpoint is None:
            raise NotFound(f"Webhook endpoint {endpoint_id} not found")
        errors.raise_if_any()
        if changes.get("enabled") is True and not endpoint.enabled:
            endpoint.consecutive_failures = 0
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
        for field, value in changes.items():
            setattr(endpoint, field, value)
        endpoint.save()
    logger.info("Webhook endpoint %s updated by %s", endpoint.pk, to_actor(actor).get("id"))
    return endpoint


def delete_endpoint(endpoint_id: str, *, actor: ActorLike = None) -> None:
    """Delete the endpoint with its deliveries and attempts."""
    deleted, _ = WebhookEndpoint.objects.filter(pk=_endpoint_pk(endpoint_id)).delete()
    if not deleted:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found")
    logger.info("Webhook endpoint %s deleted by %s", endpoint_id, to_actor(actor).get("id"))


def get_endpoint(endpoint_id: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(pk=_endpoint_pk(endpoint_id)).first()
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found")
    return endpoint


def list_endpoints() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("created_at", "id")


def _with_attempts(deliveries: QuerySet[WebhookDelivery]) -> QuerySet[WebhookDelivery]:
    return deliveries.prefetch_related(
        Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number"))
    )


def list_deliveries(endpoint_id: str) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first, with their attempts (``attempt_log``)."""
    endpoint = get_endpoint(endpoint_id)
    return _with_attempts(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id"))


def delivery_pk(delivery_id: Any) -> int:
    if isinstance(delivery_id, bool):
        raise NotFound(f"Webhook delivery {delivery_id} not found")
    try:
        pk = int(str(delivery_id).strip())
    except (TypeError, ValueError):
        raise NotFound(f"Webhook delivery {delivery_id} not found") from None
    if not 0 < pk < 2**63:
        raise NotFound(f"Webhook delivery {delivery_id} not found")
    return pk


def get_delivery(delivery_id: Any) -> WebhookDelivery:
    delivery = (
        _with_attempts(WebhookDelivery.objects.select_related("endpoint"))
        .filter(pk=delivery_pk(delivery_id))
        .first()
    )
    if delivery is None:
        raise NotFound(f"Webhook delivery {delivery_id} not found")
    return delivery
