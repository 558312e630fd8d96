"""The django-q2 schedules of the on-time transitions, created idempotently after ``migrate``.

Two one-minute schedules offset by 30 s advance maintenances about every 30 s (django-q2's
resolution is one minute); a cluster that was down catches up on its first run.
"""

from __future__ import annotations

from typing import Any

from checkstack.entities.schedules import ensure_schedules, schedule_table_exists

ADVANCE_TASK = "statuspage.maintenance.tasks.advance"
ADVANCE_SCHEDULES = (
    ("statuspage-maintenance-advance-a", 5),
    ("statuspage-maintenance-advance-b", 35),
)


def on_post_migrate(sender: Any, using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    if schedule_table_exists(using):
        ensure_schedules(ADVANCE_TASK, ADVANCE_SCHEDULES, using=using)
