"""Finding automation work a crashed worker or a lost enqueue left behind.

- The *recovery watch*: a daemon thread in every django-q2 worker process (started on
  django-q2's ``post_spawn``) that looks every ``RECOVERY_INTERVAL`` seconds for claims that
  lapsed (``LEASE``): webhook deliveries and runs whose worker died in the middle. So a crash
  is recovered within seconds, not at the next sweep.
- The sweeper's django-q2 schedules, created idempotently after ``migrate``: the sweep resumes
  runs whose enqueue was lost, times out waiting runs and re-enqueues due webhook deliveries.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import threading
from typing import Any

from django.db import connection
from django.dispatch import receiver
from django_q.signals import post_spawn

from checkstack.entities.schedules import ensure_schedules, schedule_table_exists

from . import runs, webhooks
from .conf import app_settings
from .queueing import SWEEP_TASK

logger = logging.getLogger("checkstack.automation")

SWEEP_SCHEDULES = (("checkstack-automation-sweep-a", 15), ("checkstack-automation-sweep-b", 45))


def on_post_migrate(sender: Any, using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    if schedule_table_exists(using):
        ensure_schedules(SWEEP_TASK, SWEEP_SCHEDULES, using=using)


def recover() -> dict[str, int]:
    """One look of the recovery watch: hand back lapsed webhook claims, take over stalled runs."""
    return {
        "webhook_lost_deliveries": len(webhooks.recover_lost()),
        "runs_taken_over": len(runs.recover_stalled()),
    }


def watch(interval: float, stopped: threading.Event) -> None:
    """Look every ``interval`` seconds until ``stopped``; the first look comes at a random
    moment of the first interval, so the workers of a cluster spread their looks."""
    delay = random.uniform(0, interval)
    while not stopped.wait(delay):
        try:
            recover()
        except Exception:
            logger.exception("Recovery watch: the look failed; trying again in %s s", interval)
        finally:
            connection.close()  # this thread's own connection; none is held between looks
        delay = interval


_watch_lock = threading.Lock()
_watching: int | None = None  # the pid whose watch runs (a forked child starts its own)


@receiver(post_spawn, dispatch_uid="checkstack.automation.recovery_watch")
def start_recovery_watch(sender: Any, proc_name: str = "", **kwargs: Any) -> None:
    """Start the recovery watch in a django-q2 worker process that was just spawned, once.

    django-q2 also sends ``post_spawn`` when it runs a task in the calling process (sync mode,
    ``async_task(..., sync=True)``): a web process, a management command or a test is no
    worker, and a watch thread left running there would go on using its database."""
    global _watching
    interval = app_settings.RECOVERY_INTERVAL
    if interval <= 0 or multiprocessing.parent_process() is None:
        return
    with _watch_lock:
        if _watching == os.getpid():
            return
        _watching = os.getpid()
    threading.Thread(
        target=watch,
        args=(interval, threading.Event()),
        name=f"automation-recovery:{proc_name}",
        daemon=True,
    ).start()
