"""The automation sweeper's django-q2 schedule, created idempotently after ``migrate``.

The sweep resumes runs left behind by a crashed worker, times out waiting runs and
re-enqueues due webhook deliveries.
"""

from __future__ import annotations

from typing import Any

from checkstack.entities.schedules import ensure_schedules, schedule_table_exists

from .queueing import SWEEP_TASK

SWEEP_SCHEDULES = (("checkstack-automation-sweep-a", 15), ("checkstack-automation-sweep-b", 45))


def on_post_migrate(sender: Any, using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    if schedule_table_exists(using):
        ensure_schedules(SWEEP_TASK, SWEEP_SCHEDULES, using=using)
