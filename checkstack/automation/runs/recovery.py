"""Recovery of runs: taking over runs a crashed worker left (the workers' recovery watch, every
``RECOVERY_INTERVAL``), the sweeper (time-outs, missed wake-ups, lost enqueues) and executing
every due run inline for operators without a worker."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from checkstack.entities.conf import app_settings as entity_settings
from checkstack.entities.models import TriggerEvent

from .. import queueing
from ..conf import app_settings
from ..models import AutomationRun, RunStatus
from .engine import execute_run, lock_run
from .waiting import arrived_events, resume, time_out

logger = logging.getLogger("checkstack.automation.runs")


def sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Time out waits, wake runs whose event slipped past them, re-enqueue stalled runs."""
    now = now or timezone.now()
    timed_out = resumed = 0
    batch = entity_settings.SWEEP_BATCH
    expired = AutomationRun.objects.filter(status=RunStatus.WAITING, wait_until__lte=now)
    for pk in list(expired.values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            run = lock_run(pk)
            due = run is not None and run.wait_until is not None and run.wait_until <= now
            if run is not None and due and run.status == RunStatus.WAITING:
                time_out(run)
                timed_out += 1
    arrived = TriggerEvent.objects.filter(
        event=OuterRef("wait_event"),
        context_key=OuterRef("wait_context_key"),
        created_at__gte=OuterRef("wait_started_at"),
    )
    missed = AutomationRun.objects.filter(status=RunStatus.WAITING).filter(Exists(arrived))
    for pk in list(missed.values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            run = lock_run(pk)
            event = arrived_events(run).first() if run is not None else None
            if run is not None and run.status == RunStatus.WAITING and event is not None:
                resume(run, event)
                resumed += 1
    stale = AutomationRun.objects.filter(
        status__in=[RunStatus.PENDING, RunStatus.RUNNING],
        updated_at__lte=now - dt.timedelta(seconds=app_settings.RUN_STALE_SECONDS),
    )
    stale_ids = [str(pk) for pk in stale.values_list("pk", flat=True)[:batch]]
    queueing.enqueue(queueing.RUN_TASK, stale_ids)
    if timed_out or resumed or stale_ids:
        logger.info(
            "Run sweep: %s timed out, %s resumed, %s stalled re-enqueued",
            timed_out,
            resumed,
            len(stale_ids),
        )
    return {"runs_timed_out": timed_out, "runs_resumed": resumed, "runs_stalled": len(stale_ids)}


def recover_stalled(*, now: dt.datetime | None = None) -> list[str]:
    """Re-enqueue the running runs whose worker stopped: no progress for ``LEASE`` seconds and
    no row lock (a live worker holds it during a step in the transaction, and renews
    ``updated_at`` during a step outside it). The ids enqueued.

    Their ``updated_at`` is touched, so a takeover still queued is not enqueued again before
    another lease passed.
    """
    now = now or timezone.now()
    lapsed = now - dt.timedelta(seconds=app_settings.LEASE)
    with transaction.atomic():
        stalled = list(
            AutomationRun.objects.select_for_update(skip_locked=True)
            .filter(status=RunStatus.RUNNING, updated_at__lte=lapsed)
            .order_by("updated_at")
            .values_list("pk", flat=True)[: entity_settings.SWEEP_BATCH]
        )
        if stalled:
            AutomationRun.objects.filter(pk__in=stalled).update(updated_at=now)
    ids = [str(pk) for pk in stalled]
    queueing.enqueue(queueing.RUN_TASK, ids)
    if ids:
        logger.warning("Recovery: %s run(s) left by a stopped worker re-enqueued", len(ids))
    return ids


def execute_due_inline() -> int:
    """Execute every pending or running run in this process until none is left (for operators
    without a worker, and for tests). Returns how many executions ran."""
    executed = 0
    seen: set[uuid.UUID] = set()
    while True:
        pks = list(
            AutomationRun.objects.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING])
            .exclude(pk__in=seen)
            .order_by("created_at", "id")
            .values_list("pk", flat=True)[:500]
        )
        if not pks:
            return executed
        for pk in pks:
            execute_run(pk)
            executed += 1
            if AutomationRun.objects.filter(
                pk=pk, status__in=[RunStatus.PENDING, RunStatus.RUNNING]
            ).exists():
                seen.add(pk)  # busy elsewhere; do not spin on it
