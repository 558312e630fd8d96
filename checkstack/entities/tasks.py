"""django-q2 task entry points: thin wrappers that load a row by id and call the service."""

from __future__ import annotations

from . import delivery


def deliver(delivery_id: int) -> str:
    return str(delivery.deliver(int(delivery_id)))


def dispatch_trigger_event(event_id: str) -> bool:
    return delivery.dispatch_trigger_event(event_id)


def sweep() -> tuple[int, int]:
    return delivery.sweep()
