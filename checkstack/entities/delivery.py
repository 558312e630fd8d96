"""Processing the outbox: durable deliveries to work-queue subscribers and trigger events.

A delivery is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED``; the handler runs and the row
is marked done in the same transaction, so a handler whose effects are database writes runs
exactly once per change, cluster-wide. A worker killed mid-handler rolls back with its
connection and the row stays pending for the sweeper. Per (group, entity) deliveries run in
``seq`` order: a delivery waits while an earlier one of the same entity and group is pending.
A ``dead`` delivery does not hold back later ones (otherwise one poisoned change would stall
its entity forever); replaying it is an operator's explicit choice.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import traceback
import uuid
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import outbox, registry
from .conf import app_settings
from .models import Change, Delivery, DeliveryStatus, TriggerEvent
from .types import EntityChange

logger = logging.getLogger("checkstack.entities.delivery")

MAX_ERROR_LENGTH = 4000


class Outcome(StrEnum):
    DONE = "done"
    RETRY = "retry"
    DEAD = "dead"
    BUSY = "busy"  # another worker holds the row (or it does not exist)
    BLOCKED = "blocked"  # an earlier delivery of the same entity and group is pending
    SKIPPED = "skipped"  # already done or dead, or not due yet


ATTEMPTED = frozenset({Outcome.DONE, Outcome.RETRY, Outcome.DEAD})


def change_from_row(row: Change) -> EntityChange:
    return EntityChange(
        change_id=row.change_id,
        kind=row.kind,
        entity_id=row.entity_id,
        seq=row.seq,
        prev=row.prev,
        next=row.next,
        delta=row.delta,
        changed_fields=list(row.changed_fields),
        actor=row.actor,
        run_id=row.run_id,
        occurred_at=row.occurred_at,
        request_id=row.request_id,
    )


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff with jitter: base * 2^(attempts-1) * [0.8, 1.2), capped."""
    base = app_settings.RETRY_BASE * (2 ** max(0, attempts - 1))
    jittered = base * random.uniform(0.8, 1.2)
    return dt.timedelta(seconds=min(app_settings.RETRY_CAP, jittered))


def deliver(delivery_id: int) -> Outcome:
    """Process one delivery, then each later delivery of its (group, entity) it unblocked."""
    return deliver_chain(delivery_id)[0]


def deliver_change(change_id: uuid.UUID | str, group: str) -> Outcome:
    """``deliver`` of the delivery of change ``change_id`` to ``group`` (the task a write's
    transaction enqueues itself, before the delivery's id is known: see ``outbox``)."""
    return _deliver_from({"change_id": change_id, "group": group})[0]


def deliver_chain(delivery_id: int) -> tuple[Outcome, int]:
    """Like ``deliver``; also returns how many deliveries were attempted in all."""
    return _deliver_from({"pk": delivery_id})


def _deliver_from(lookup: dict[str, Any]) -> tuple[Outcome, int]:
    outcome, next_id = _deliver_one(lookup, wait=False)
    attempted = 1 if outcome in ATTEMPTED else 0
    while next_id is not None:
        # Wait for the row lock here: a worker that found it blocked a moment ago is only
        # finishing its short check, and would otherwise leave it to the sweeper.
        chained, next_id = _deliver_one({"pk": next_id}, wait=True)
        attempted += 1 if chained in ATTEMPTED else 0
    return outcome, attempted


def _deliver_one(lookup: dict[str, Any], *, wait: bool) -> tuple[Outcome, int | None]:
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=not wait, of=("self",))
            .select_related("change")
            .filter(**lookup)
            .first()
        )
        if delivery is None:
            return Outcome.BUSY, None
        now = timezone.now()
        if delivery.status != DeliveryStatus.PENDING or delivery.next_attempt_at > now:
            return Outcome.SKIPPED, None
        if _blocked(delivery):
            return Outcome.BLOCKED, None
        outcome = _settle(delivery, _run_handler(delivery), now)
        delivery.save(
            update_fields=["status", "attempts", "finished_at", "last_error", "next_attempt_at"]
        )
    if outcome is not Outcome.DONE and outcome is not Outcome.DEAD:
        return outcome, None
    return outcome, _next_in_line(delivery)


def _settle(delivery: Delivery, error: str | None, now: dt.datetime) -> Outcome:
    """Apply one attempt's result to ``delivery`` (not saved): done, retry later, or dead."""
    delivery.attempts += 1
    if error is None:
        delivery.status = DeliveryStatus.DONE
        delivery.finished_at = now
        delivery.last_error = ""
        return Outcome.DONE
    delivery.last_error = error
    if delivery.attempts >= delivery.max_attempts:
        delivery.status = DeliveryStatus.DEAD
        delivery.finished_at = now
        logger.error(
            "Delivery %s to %r is dead after %s attempts: %s",
            delivery.pk,
            delivery.group,
            delivery.attempts,
            error.splitlines()[0],
        )
        return Outcome.DEAD
    delivery.next_attempt_at = now + retry_delay(delivery.attempts)
    logger.warning(
        "Delivery %s to %r failed (attempt %s of %s), retry at %s: %s",
        delivery.pk,
        delivery.group,
        delivery.attempts,
        delivery.max_attempts,
        delivery.next_attempt_at.isoformat(),
        error.splitlines()[0],
    )
    return Outcome.RETRY


def deliver_batch(limit: int) -> int:
    """Claim up to ``limit`` due deliveries in one transaction, run the handler of each one
    that is next in its (group, entity) line in its own savepoint, and mark them together;
    returns how many were attempted.

    Per row this costs the handler and a savepoint instead of a transaction, a claim, a check
    and an update: what lets one worker drain a backlog quickly. Rows other workers hold are
    skipped; a crash rolls back the whole batch (handlers' writes included), so every row
    stays exactly-once. The claim is a plain ordered scan of the due index and the line check
    one lookup for the batch's lines, so the cost per batch stays proportional to the batch
    whatever the planner's statistics say (an anti-join over the whole backlog, planned on
    statistics taken before a burst, cost a second per batch).
    """
    now = timezone.now()
    with transaction.atomic():
        claimed_rows = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")[:limit]
        )
        if not claimed_rows:
            return 0
        claimed = timezone.now()  # after the rows were committed and claimed
        changes = Change.objects.in_bulk([d.change_id for d in claimed_rows])
        done: list[int] = []
        attempted = 0
        for line in _runnable_lines(claimed_rows):
            for delivery in line:
                delivery.change = changes[delivery.change_id]
                outcome = _settle(delivery, _run_handler(delivery), claimed)
                attempted += 1
                if outcome is Outcome.DONE:
                    done.append(delivery.pk)
                    continue
                delivery.save(
                    update_fields=[
                        "status",
                        "attempts",
                        "finished_at",
                        "last_error",
                        "next_attempt_at",
                    ]
                )
                if outcome is Outcome.RETRY:
                    break  # the rest of this line waits behind the retry
        if done:
            Delivery.objects.filter(pk__in=done).update(
                status=DeliveryStatus.DONE,
                attempts=F("attempts") + 1,
                finished_at=claimed,
                last_error="",
            )
    return attempted


def _runnable_lines(rows: list[Delivery]) -> list[list[Delivery]]:
    """The claimed ``rows`` that may run now, by (group, entity) line, each line in ``seq``
    order: from the line's first open (pending or running) delivery on, as long as every open
    delivery of the line is one of ``rows``. One query for all the lines."""
    lines: dict[tuple[str, str, str], dict[int, Delivery]] = {}
    for row in rows:
        lines.setdefault((row.group, row.kind, row.entity_id), {})[row.seq] = row
    # By entity id only (a hashed IN list): the cost stays one pass over the open rows
    # whatever the plan; rows of other lines of the same entities are dropped here.
    open_seqs: dict[tuple[str, str, str], list[int]] = {}
    for group, kind, entity_id, seq in (
        Delivery.objects.filter(
            entity_id__in={row.entity_id for row in rows},
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.RUNNING],
            seq__lte=max(row.seq for row in rows),
        )
        .order_by("seq")
        .values_list("group", "kind", "entity_id", "seq")
    ):
        if (group, kind, entity_id) in lines:
            open_seqs.setdefault((group, kind, entity_id), []).append(seq)
    runnable = []
    for key, by_seq in lines.items():
        line = []
        for seq in open_seqs.get(key, []):
            if seq not in by_seq:
                break  # an earlier open delivery this batch does not hold
            line.append(by_seq[seq])
        if line:
            runnable.append(line)
    return runnable


def _blocked(delivery: Delivery) -> bool:
    return Delivery.objects.filter(
        group=delivery.group,
        kind=delivery.kind,
        entity_id=delivery.entity_id,
        seq__lt=delivery.seq,
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RUNNING],
    ).exists()


def _next_in_line(delivery: Delivery) -> int | None:
    return (
        Delivery.objects.filter(
            group=delivery.group,
            kind=delivery.kind,
            entity_id=delivery.entity_id,
            seq__gt=delivery.seq,
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=timezone.now(),
        )
        .order_by("seq")
        .values_list("pk", flat=True)
        .first()
    )


def _run_handler(delivery: Delivery) -> str | None:
    """Run the group's handler in a savepoint; the error text, or None on success."""
    subscription = registry.work_queue_handler(delivery.kind, delivery.group)
    if subscription is None:
        return (
            f"No subscriber for work queue {delivery.group!r} on {delivery.kind!r} in this process"
        )
    try:
        with transaction.atomic():
            subscription.handler(change_from_row(delivery.change))
    except Exception as exc:
        text = "".join(traceback.format_exception(exc))
        return f"{type(exc).__name__}: {exc}\n\n{text}"[:MAX_ERROR_LENGTH]
    return None


def dispatch_trigger_event(event_id: uuid.UUID | str) -> bool:
    """Hand one trigger event to the automation dispatcher and mark it dispatched, atomically.

    False when another worker holds it or it was dispatched already.
    """
    dispatch = registry.trigger_dispatcher()
    with transaction.atomic():
        event = (
            TriggerEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=event_id, dispatched_at__isnull=True)
            .first()
        )
        if event is None:
            return False
        dispatch(event)
        event.dispatched_at = timezone.now()
        event.save(update_fields=["dispatched_at"])
    return True


# -- sweeping -------------------------------------------------------------------------------


def due_deliveries(*, grace: float, limit: int) -> list[int]:
    """Due pending deliveries that head their line: no earlier pending one of the same entity
    and group (a line whose head waits for its retry yields nothing).

    New rows younger than ``grace`` are left to their own after-commit enqueue. Due rows are
    read a page at a time and their lines checked with one query per page (see
    ``_runnable_lines``), so a sweep costs at most one pass over the backlog.
    """
    now = timezone.now()
    due = (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(attempts__gt=0) | Q(created_at__lte=now - dt.timedelta(seconds=grace)))
        .order_by("created_at", "pk")
        .only("pk", "group", "kind", "entity_id", "seq", "created_at")
    )
    heads: list[int] = []
    page = list(due[:limit])
    while page and len(heads) < limit:
        heads += [line[0].pk for line in _runnable_lines(page)]
        last = page[-1]
        after = Q(created_at__gt=last.created_at) | Q(created_at=last.created_at, pk__gt=last.pk)
        page = list(due.filter(after)[:limit])
    return heads[:limit]


def due_trigger_events(*, grace: float, limit: int) -> list[uuid.UUID]:
    cutoff = timezone.now() - dt.timedelta(seconds=grace)
    return list(
        TriggerEvent.objects.filter(dispatched_at__isnull=True, created_at__lte=cutoff)
        .order_by("created_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def sweep() -> tuple[int, int]:
    """Re-enqueue outbox rows whose enqueue was lost (or that are due for a retry)."""
    delivery_ids = due_deliveries(grace=app_settings.SWEEP_GRACE, limit=app_settings.SWEEP_BATCH)
    event_ids = due_trigger_events(grace=app_settings.SWEEP_GRACE, limit=app_settings.SWEEP_BATCH)
    outbox.enqueue(delivery_ids, event_ids)
    if delivery_ids or event_ids:
        logger.info(
            "Sweeper re-enqueued %s deliveries and %s trigger events",
            len(delivery_ids),
            len(event_ids),
        )
    return len(delivery_ids), len(event_ids)


def sweep_inline() -> tuple[int, int]:
    """Process every due outbox row in this process, in order, until none is left.

    Returns (deliveries processed, trigger events dispatched). Rows that fail are rescheduled
    into the future by their backoff, so the loop ends.
    """
    delivered = dispatched = 0
    while True:
        progress = False
        for event_id in due_trigger_events(grace=0, limit=500):
            if dispatch_trigger_event(event_id):
                dispatched += 1
                progress = True
        for delivery_id in due_deliveries(grace=0, limit=500):
            _, attempted = deliver_chain(delivery_id)
            if attempted:
                delivered += attempted
                progress = True
        if not progress:
            return delivered, dispatched


def drain(*, seconds: float, batch: int = 20) -> int:
    """Process due outbox rows (deliveries first, then trigger events) for up to ``seconds``.

    Each outbox task calls this after its own row, so one task processes many rows and
    django-q2's per-task cost is paid per batch, not per row; the tasks of the rows it took
    find them done and return at once. Rows other workers hold are skipped, and per-entity
    order holds (only the heads of their lines are due). Returns the rows processed.
    """
    deadline = time.monotonic() + seconds
    processed = 0
    failed: set[uuid.UUID] = set()  # events whose dispatch raised: left to their own task
    while time.monotonic() < deadline:
        progress = 0
        # Every due delivery first: they are what subscribers wait for.
        while time.monotonic() < deadline and (delivered := deliver_batch(batch)):
            progress += delivered
        if time.monotonic() >= deadline:
            return processed + progress
        for event_id in due_trigger_events(grace=0, limit=batch):
            if event_id in failed:
                continue
            try:
                progress += dispatch_trigger_event(event_id)
            except Exception:
                logger.exception("Dispatching trigger event %s failed; it stays pending", event_id)
                failed.add(event_id)
            if time.monotonic() >= deadline:
                return processed + progress
        if not progress:
            break
        processed += progress
    return processed
