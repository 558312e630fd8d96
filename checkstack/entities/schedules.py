"""The sweeper's django-q2 schedules, created (or corrected) idempotently after ``migrate``.

django-q2 schedules have a one-minute resolution and its scheduler looks every 30 s, so two
one-minute schedules offset by 30 s sweep about every 30 s. ``catch_up`` is off in Q_CLUSTER:
a cluster that was down does not replay missed sweeps (one sweep catches up everything).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

SWEEP_FUNC = "checkstack.entities.tasks.sweep"
SWEEP_SCHEDULES = (("checkstack-entities-sweep-a", 0), ("checkstack-entities-sweep-b", 30))


def ensure_sweeper_schedules(using: str = "default", **kwargs: Any) -> None:
    ensure_schedules(SWEEP_FUNC, SWEEP_SCHEDULES, using=using)


def ensure_schedules(
    func: str, schedules: tuple[tuple[str, int], ...], *, using: str = "default"
) -> None:
    """One-minute schedules of ``func``, by name, each first due ``offset`` seconds from now."""
    from django_q.models import Schedule

    now = timezone.now()
    for name, offset in schedules:
        schedule = Schedule.objects.using(using).filter(name=name).first()
        if schedule is None:
            Schedule.objects.using(using).create(
                name=name,
                func=func,
                schedule_type=Schedule.MINUTES,
                minutes=1,
                repeats=-1,
                next_run=now + dt.timedelta(seconds=offset),
            )
            continue
        changed = False
        for field, value in (
            ("func", func),
            ("schedule_type", Schedule.MINUTES),
            ("minutes", 1),
            ("repeats", -1),
        ):
            if getattr(schedule, field) != value:
                setattr(schedule, field, value)
                changed = True
        if changed:
            schedule.save()


def schedule_table_exists(using: str) -> bool:
    """False when django_q is not migrated on this database (e.g. a partial migrate)."""
    from django.db import connections
    from django_q.models import Schedule

    return Schedule._meta.db_table in connections[using].introspection.table_names()


def on_post_migrate(sender: Any, using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    if schedule_table_exists(using):
        ensure_sweeper_schedules(using=using)
