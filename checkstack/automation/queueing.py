"""Handing automation work to django-q2: the task names and enqueueing after COMMIT.

The task functions live in ``checkstack.automation.tasks`` (the top of this package); the
engine below it refers to them by name only, through this module.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from checkstack.entities import outbox
from checkstack.entities.conf import app_settings as entity_settings

RUN_TASK = "checkstack.automation.tasks.execute_run"
WEBHOOK_TASK = "checkstack.automation.tasks.send_webhook"
SWEEP_TASK = "checkstack.automation.tasks.sweep"


def enqueue(task: str, args: Iterable[int | str]) -> None:
    """One django-q2 task ``task(arg)`` per arg, now (nothing when enqueueing is off)."""
    jobs: list[tuple[str, int | str]] = [(task, arg) for arg in args]
    if jobs and entity_settings.ENQUEUE:
        outbox.enqueue_tasks(jobs)


def enqueue_after_commit(task: str, args: Iterable[int | str]) -> None:
    """``enqueue`` once the current transaction commits; a broker outage then is logged, not
    raised (the sweepers catch up)."""
    jobs = list(args)
    if jobs:
        transaction.on_commit(lambda: enqueue(task, jobs), robust=True)
