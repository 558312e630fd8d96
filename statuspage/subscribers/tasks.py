"""django-q2 task entry points of the subscribers concern: thin wrappers over ``sending``."""

from __future__ import annotations

from . import sending


def send_notifications(batch: str) -> dict[str, int]:
    return sending.send_batch(batch)


def sweep() -> int:
    return sending.sweep()
