"""Handing automation work to django-q2: the task names, enqueueing after COMMIT, the
dispatcher's hand-off (one queue hop), and the heartbeat that keeps a worker's claim on
in-flight work alive.

The task functions live in ``checkstack.automation.tasks`` (the top of this package); the
engine below it refers to them by name only, through this module.

The hand-off: the work a trigger event's dispatch creates (runs, resumed runs, webhook
deliveries) is collected while the dispatch runs; after its COMMIT all of it is enqueued in one
batch, except the first job, which the dispatching process executes itself at once through
the task function its own task would run (``ONE_HOP``). Its claim is what makes that safe:
exactly once per attempt and the per-incident order of webhook deliveries hold whoever executes
it. It is not enqueued as well (two concurrent executions of a run would both start its step);
if the process dies before it claimed the job, the job is a pending row that the sweepers
re-enqueue, as after a lost enqueue; once claimed, the recovery watch takes it over.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from django.db import DatabaseError, connection, transaction
from django.utils.module_loading import import_string
from django_q.conf import Conf

from checkstack.entities import context as entity_context
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


Job = tuple[str, int | str]  # (task, argument)

# The jobs of the dispatch that is running in this thread (``handing_off``), else None.
_collected: contextvars.ContextVar[list[Job] | None] = contextvars.ContextVar(
    "checkstack_automation_hand_off", default=None
)


def enqueue_after_commit(task: str, args: Iterable[int | str]) -> None:
    """``enqueue`` once the current transaction commits; a broker outage then is logged, not
    raised (the sweepers catch up). During a dispatch, the job joins its hand-off."""
    jobs: list[Job] = [(task, arg) for arg in args]
    if not jobs:
        return
    collected = _collected.get()
    if collected is not None:
        collected.extend(jobs)
        return
    transaction.on_commit(lambda: enqueue_jobs(jobs), robust=True)


def enqueue_jobs(jobs: list[Job]) -> None:
    """One django-q2 task per job, in one batch (nothing when enqueueing is off)."""
    if jobs and entity_settings.ENQUEUE:
        outbox.enqueue_tasks(jobs)


@contextlib.contextmanager
def handing_off() -> Iterator[None]:
    """Collect the jobs the block creates (inside the dispatching transaction); after COMMIT,
    ``hand_off`` them. Nothing is collected or handed off if the block raises. Only a dispatch
    in a worker's task (``checkstack.entities.context.worker_task``) executes a job itself."""
    jobs: list[Job] = []
    in_task = entity_context.in_worker_task()
    token = _collected.set(jobs)
    try:
        yield
    finally:
        _collected.reset(token)
    if jobs:
        transaction.on_commit(lambda: hand_off(jobs, in_worker_task=in_task), robust=True)


def hand_off(jobs: list[Job], *, in_worker_task: bool = True) -> None:
    """After the dispatch's COMMIT: enqueue the jobs but the first one, then execute that one
    here (``ONE_HOP`` in a worker's task; otherwise, or in django-q2's sync mode, enqueue them
    all: a web request or an inline sweep does not run automation work itself)."""
    if not entity_settings.ENQUEUE:
        return  # only the sweepers hand out work (tests, operators without workers)
    if not app_settings.ONE_HOP or Conf.SYNC or not in_worker_task:
        enqueue_jobs(jobs)
        return
    first, rest = jobs[0], jobs[1:]
    enqueue_jobs(rest)  # first, so that other workers start on them meanwhile
    execute_here(first)


def execute_here(job: Job) -> None:
    """Run a job's task function in this process, as a worker running its task would."""
    task, arg = job
    try:
        import_string(task)(arg)
    except Exception:
        # As when its task fails: the row stays for the recovery watch and the sweepers.
        logger.exception("Executing %s(%s) after its dispatch failed", task, arg)


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
