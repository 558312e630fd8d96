"""What operators do with the outbox: retry or give up on deliveries, and its backlog for
``/healthz``."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from . import outbox, registry
from .models import Delivery, DeliveryStatus, TriggerEvent


def retry_now(delivery_ids: Iterable[int]) -> int:
    """Make failed or dead deliveries pending and due now, with a fresh budget of attempts
    (the subscriber's ``max_attempts`` on top of those used), and enqueue them."""
    now = timezone.now()
    with transaction.atomic():
        deliveries = list(
            Delivery.objects.select_for_update()
            .filter(pk__in=list(delivery_ids))
            .exclude(status=DeliveryStatus.DONE)
        )
        for delivery in deliveries:
            subscription = registry.work_queue_handler(delivery.kind, delivery.group)
            budget = (
                subscription.delivery.max_attempts  # type: ignore[union-attr]
                if subscription is not None
                else max(1, delivery.max_attempts - delivery.attempts)
            )
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = now
            delivery.finished_at = None
            delivery.max_attempts = delivery.attempts + budget
            delivery.save(
                update_fields=["status", "next_attempt_at", "finished_at", "max_attempts"]
            )
        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: outbox.enqueue(ids, []), robust=True)
    return len(ids)


def mark_dead(delivery_ids: Iterable[int], *, reason: str = "Marked dead by an operator") -> int:
    """Give up on pending deliveries: they are never attempted again unless retried."""
    return Delivery.objects.filter(
        pk__in=list(delivery_ids), status__in=[DeliveryStatus.PENDING, DeliveryStatus.RUNNING]
    ).update(status=DeliveryStatus.DEAD, finished_at=timezone.now(), last_error=reason)


def queue_health() -> dict[str, float | int]:
    """Pending outbox rows and the age of the oldest, for ``/healthz``."""
    now = timezone.now()
    pending_deliveries = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    pending_events = TriggerEvent.objects.filter(dispatched_at__isnull=True)
    oldest = [
        value
        for value in (
            pending_deliveries.aggregate(m=Min("created_at"))["m"],
            pending_events.aggregate(m=Min("created_at"))["m"],
        )
        if value is not None
    ]
    return {
        "pending": pending_deliveries.count() + pending_events.count(),
        "oldest_pending_seconds": round((now - min(oldest)).total_seconds(), 3) if oldest else 0,
    }
