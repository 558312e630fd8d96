"""django-q2 task entry points: thin wrappers that load a row by id and call the service."""

from __future__ import annotations

from . import delivery
from .conf import app_settings


def deliver(delivery_id: int) -> str:
    outcome = delivery.deliver(int(delivery_id))
    delivery.drain(seconds=app_settings.DRAIN_SECONDS)
    return str(outcome)


def dispatch_trigger_event(event_id: str) -> bool:
    # Deliveries first (the same commit's, which subscribers wait for), then this event.
    delivery.drain(seconds=app_settings.DRAIN_SECONDS)
    return delivery.dispatch_trigger_event(event_id)


def sweep() -> tuple[int, int]:
    return delivery.sweep()
