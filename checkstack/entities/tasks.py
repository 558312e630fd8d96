"""django-q2 task entry points: thin wrappers that load a row by id and call the service."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.core.cache import cache

from . import context, delivery
from .conf import app_settings

logger = logging.getLogger("checkstack.entities")

# When a worker last ran the periodic sweep (epoch seconds), in the default cache, for
# ``/healthz``: django-q2's own cluster stats expire after seconds, so they give no age.
WORKER_HEARTBEAT_KEY = "checkstack:worker-heartbeat"


def deliver(delivery_id: int) -> str:
    return _deliver_then_drain(lambda: delivery.deliver(int(delivery_id)))


def deliver_change(change_and_group: str) -> str:
    """``deliver`` of the delivery of one change to one group, named ``"<change id>:<group>"``:
    the task a write's own transaction enqueues (``outbox``), before the row has an id."""
    change_id, group = change_and_group.split(":", 1)
    return _deliver_then_drain(lambda: delivery.deliver_change(change_id, group))


def _deliver_then_drain(deliver_one: Callable[[], delivery.Outcome]) -> str:
    with context.worker_task():
        outcome = deliver_one()
        delivery.drain(seconds=app_settings.DRAIN_SECONDS)
    return str(outcome)


def dispatch_trigger_event(event_id: str) -> bool:
    # This event first: the automations and webhooks it starts (the first of them executed in
    # this task) are what a write's latency is measured to; then other due rows. The same
    # commit's deliveries have tasks of their own, run by other workers meanwhile.
    with context.worker_task():
        dispatched = delivery.dispatch_trigger_event(event_id)
        delivery.drain(seconds=app_settings.DRAIN_SECONDS)
    return dispatched


def sweep() -> tuple[int, int]:
    swept = delivery.sweep()
    try:
        # No expiry: the age keeps growing while no worker sweeps, rather than vanishing.
        cache.set(WORKER_HEARTBEAT_KEY, time.time(), timeout=None)
    except Exception:  # a cache outage must not fail the sweep, which did its work
        logger.warning("Sweep: could not store the worker heartbeat", exc_info=True)
    return swept
