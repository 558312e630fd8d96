"""The retry and disable policy of webhook deliveries: which results are worth a retry, the
backoff, how far a claim reaches, and disabling an endpoint after consecutive failures."""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid

from .. import http
from ..conf import app_settings
from ..models import WebhookEndpoint

logger = logging.getLogger("checkstack.automation.webhooks")

RETRYABLE_STATUSES = frozenset({408, 429})


def retry_delay(attempts: int) -> dt.timedelta:
    """``WEBHOOK_RETRY_BASE * 4**(attempts-1)`` seconds, ±20 % jitter."""
    base = app_settings.WEBHOOK_RETRY_BASE * (4 ** max(0, attempts - 1))
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.2))


def claim_seconds() -> float:
    """How far ahead a claim (and each renewal of it during the POST) reaches: ``LEASE``,
    independent of ``WEBHOOK_TIMEOUT``, so a crashed worker's delivery is soon sent again."""
    return app_settings.LEASE


def classify(result: http.PostResult) -> tuple[bool, bool]:
    """(success, worth a retry) of one POST."""
    if result.status_code is None:
        return False, not result.refused
    code = result.status_code
    if 200 <= code < 300:
        return True, False
    return False, code >= 500 or code in RETRYABLE_STATUSES


def count_for_endpoint(endpoint_id: uuid.UUID, *, succeeded: bool, now: dt.datetime) -> None:
    if succeeded:
        WebhookEndpoint.objects.filter(pk=endpoint_id, consecutive_failures__gt=0).update(
            consecutive_failures=0
        )
        return
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    endpoint.consecutive_failures += 1
    fields = ["consecutive_failures"]
    limit = app_settings.WEBHOOK_DISABLE_AFTER
    if endpoint.enabled and limit > 0 and endpoint.consecutive_failures >= limit:
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = (
            f"Disabled after {endpoint.consecutive_failures} consecutive failed deliveries"
        )
        fields += ["enabled", "disabled_at", "disabled_reason"]
        logger.warning(
            "Webhook endpoint %s disabled after %s consecutive failed deliveries",
            endpoint.pk,
            endpoint.consecutive_failures,
        )
    endpoint.save(update_fields=[*fields, "updated_at"])
