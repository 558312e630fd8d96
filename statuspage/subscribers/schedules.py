"""The notification sweeper's django-q2 schedules, created idempotently after ``migrate``:
retries whose time has come, lost enqueues and expired claims are picked up about every 30 s."""

from __future__ import annotations

from typing import Any

from checkstack.entities.schedules import ensure_schedules, schedule_table_exists

SWEEP_TASK = "statuspage.subscribers.tasks.sweep"
SWEEP_SCHEDULES = (("statuspage-subscribers-sweep-a", 20), ("statuspage-subscribers-sweep-b", 50))


def on_post_migrate(sender: Any, using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    if schedule_table_exists(using):
        ensure_schedules(SWEEP_TASK, SWEEP_SCHEDULES, using=using)
