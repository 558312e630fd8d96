"""Helpers of the subscribers tests: subscribers, running the work queue and the send tasks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core import mail
from django.utils import timezone

from checkstack.entities import delivery
from checkstack.entities.models import Delivery
from statuspage.models import Subscriber
from statuspage.subscribers import tasks
from statuspage.subscribers.fanout import GROUP, SEND_TASK
from statuspage.subscribers.services.subscriptions import set_topics

LINK = re.compile(
    r"https?://[^\s\"<>]+/status/subscribe/(confirm|manage|unsubscribe)/([^/\s\"<>]+)/"
)


def confirmed(email: str, *, systems: Iterable[str] = (), groups: Iterable[str] = ()) -> Subscriber:
    """A confirmed email subscriber of everything, or of the given systems and groups."""
    subscriber = Subscriber.objects.create(email=email, confirmed_at=timezone.now())
    set_topics(subscriber, list(systems), list(groups))
    subscriber.save(update_fields=["everything"])
    return subscriber


def run_deliveries() -> int:
    """Hand every pending delivery of the subscribers' work queue to its handler."""
    ids = list(
        Delivery.objects.filter(group=GROUP, status="pending")
        .order_by("id")
        .values_list("id", flat=True)
    )
    for delivery_id in ids:
        delivery.deliver(delivery_id)
    return len(ids)


def send_jobs(jobs: list[tuple[str, Any]]) -> list[dict[str, int]]:
    """Run the send tasks among ``jobs`` (what ``enqueue_tasks`` was given)."""
    return [tasks.send_notifications(arg) for func, arg in jobs if func == SEND_TASK]


def links(message: Any) -> dict[str, str]:
    """The signed links of a mail, by purpose, as paths."""
    found = {}
    for match in LINK.finditer(message.body):
        found[match.group(1)] = f"/status/subscribe/{match.group(1)}/{match.group(2)}/"
    return found


def recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)
