"""Sending again: an operator's redelivery, the recovery of deliveries a dead worker left (the
workers' recovery watch, every ``RECOVERY_INTERVAL``), the sweeper (due retries, lost
enqueues) and sending every due delivery inline."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from checkstack.actors import ActorLike, to_actor
from checkstack.entities.conf import app_settings as entity_settings
from checkstack.errors import Conflict, NotFound

from .. import queueing
from ..conf import app_settings
from ..models import WebhookDelivery, WebhookDeliveryStatus
from .attempt import release_lost, send_chain
from .endpoints import delivery_pk, get_delivery
from .message import PING_EVENT

logger = logging.getLogger("checkstack.automation.webhooks")

Status = WebhookDeliveryStatus


def redeliver(delivery_id: Any, *, actor: ActorLike = None) -> WebhookDelivery:
    """Send a delivery again: same ``webhook-id`` and body, due now, a fresh attempt budget."""
    pk = delivery_pk(delivery_id)
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=pk).first()
        if delivery is None:
            raise NotFound(f"Webhook delivery {delivery_id} not found")
        if delivery.status == Status.SENDING:
            raise Conflict(
                f"Webhook delivery {pk} is being sent right now; redeliver it once the attempt "
                "has finished."
            )
        budget = 1 if delivery.event_type == PING_EVENT else app_settings.WEBHOOK_MAX_ATTEMPTS
        delivery.status = Status.PENDING
        delivery.next_attempt_at = timezone.now()
        delivery.max_attempts = delivery.attempts + budget
        delivery.finished_at = None
        delivery.claimed_until = None
        delivery.save(
            update_fields=[
                "status",
                "next_attempt_at",
                "max_attempts",
                "finished_at",
                "claimed_until",
            ]
        )
        queueing.enqueue_after_commit(queueing.WEBHOOK_TASK, [delivery.pk])
    logger.info("Webhook delivery %s redelivered by %s", pk, to_actor(actor).get("id"))
    return get_delivery(pk)


def _due_ids(*, grace: float, limit: int) -> tuple[list[int], list[int]]:
    """(due pending deliveries heading their line, ``sending`` ones whose claim expired)."""
    now = timezone.now()
    pending = WebhookDelivery.objects.filter(
        status=Status.PENDING, next_attempt_at__lte=now
    ).filter(Q(attempts__gt=0) | Q(next_attempt_at__lte=now - dt.timedelta(seconds=grace)))
    lost = WebhookDelivery.objects.filter(status=Status.SENDING, claimed_until__lte=now)
    return line_heads(pending, limit), line_heads(lost, limit)


def line_heads(candidates: QuerySet[WebhookDelivery], limit: int) -> list[int]:
    """Up to ``limit`` ids of ``candidates`` (oldest first) with no earlier open delivery in
    their (endpoint, ordering key) line.

    Read a page at a time, each page's lines checked with one query, so a sweep costs at most
    one pass over the backlog whatever plan the statistics give (an anti-join over the whole
    backlog, planned on statistics older than a burst, is quadratic).
    """
    ordered = candidates.order_by("id").values_list("id", "endpoint_id", "ordering_key")
    heads: list[int] = []
    page = list(ordered[:limit])
    while page and len(heads) < limit:
        keyed = [(pk, endpoint, key) for pk, endpoint, key in page if key is not None]
        first: dict[tuple[Any, str | None], int] = {}
        if keyed:
            for endpoint, key, pk in (
                WebhookDelivery.objects.filter(
                    ordering_key__in={key for _, _, key in keyed},
                    endpoint_id__in={endpoint for _, endpoint, _ in keyed},
                    status__in=[Status.PENDING, Status.SENDING],
                    id__lte=max(pk for pk, _, _ in keyed),
                )
                .order_by("id")
                .values_list("endpoint_id", "ordering_key", "id")
            ):
                first.setdefault((endpoint, key), pk)
        # .get: a row a worker finished since the page was read is no longer open, not a head.
        heads += [
            pk for pk, endpoint, key in page if key is None or first.get((endpoint, key)) == pk
        ]
        page = list(ordered.filter(id__gt=page[-1][0])[:limit])
    return heads[:limit]


def recover_lost(*, limit: int | None = None) -> list[int]:
    """Hand back the deliveries whose worker stopped renewing its claim (``release_lost``) and
    enqueue them; the ids enqueued."""
    lost = WebhookDelivery.objects.filter(
        status=Status.SENDING, claimed_until__lte=timezone.now()
    ).order_by("id")
    batch = entity_settings.SWEEP_BATCH if limit is None else limit
    ids = [
        pk
        for pk in (release_lost(pk) for pk in lost.values_list("id", flat=True)[:batch])
        if pk is not None
    ]
    queueing.enqueue(queueing.WEBHOOK_TASK, ids)
    return ids


def sweep() -> dict[str, int]:
    """Re-enqueue due deliveries (retries, lost enqueues) and those a dead worker left."""
    lost = recover_lost()
    pending, _ = _due_ids(grace=entity_settings.SWEEP_GRACE, limit=entity_settings.SWEEP_BATCH)
    pending = [pk for pk in pending if pk not in lost]
    queueing.enqueue(queueing.WEBHOOK_TASK, pending)
    if pending or lost:
        logger.info(
            "Sweeper re-enqueued %s due and %s lost webhook deliveries", len(pending), len(lost)
        )
    return {"webhook_deliveries": len(pending), "webhook_lost_deliveries": len(lost)}


def deliver_due_inline() -> int:
    """Send every due delivery in this process, in order, until none is due; attempts made.

    Retries are scheduled into the future by their backoff, so the loop ends.
    """
    attempted = 0
    while True:
        pending, lost = _due_ids(grace=0, limit=500)
        progress = False
        for delivery_id in sorted(pending + lost):
            _, count = send_chain(delivery_id)
            if count:
                attempted += count
                progress = True
        if not progress:
            return attempted
