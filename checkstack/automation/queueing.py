"""Handing automation work to django-q2: the task names, enqueueing after COMMIT, and the
heartbeat that keeps a worker's claim on in-flight work alive.

The task functions live in ``checkstack.automation.tasks`` (the top of this package); the
engine below it refers to them by name only, through this module.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from django.db import DatabaseError, connection, transaction

from checkstack.entities import outbox
from checkstack.entities.conf import app_settings as entity_settings

from .conf import app_settings

logger = logging.getLogger("checkstack.automation")

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


@contextlib.contextmanager
def renewing(renew: Callable[[], bool], *, name: str) -> Iterator[None]:
    """While the block runs, call ``renew`` (extend the claim, False once it was taken over)
    every third of ``LEASE`` from a thread: the worker's heartbeat.

    The thread opens its own database connection only if the block outlasts the first period
    (most webhook calls do not), and closes it when it ends.
    """
    every = app_settings.LEASE / 3
    stopped = threading.Event()

    def beat() -> None:
        try:
            while not stopped.wait(every):
                try:
                    if not renew():
                        return
                except DatabaseError as exc:
                    # Keep trying: the claim lapses (and the work is taken over) only if the
                    # database stays unreachable for a whole lease.
                    logger.warning("Could not renew the claim of %s: %s", name, exc)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"lease:{name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=app_settings.LEASE)
