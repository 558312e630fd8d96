"""Writing a change and its outbox rows, and what happens after COMMIT.

The change row, its field transitions, the derived trigger events and one delivery row per
durable subscriber are inserted in the write's transaction: they commit or roll back with the
domain rows. After COMMIT the in-process subscribers and the ``entity_changed`` signal run in
the committing process (errors logged, never raised into the write).
"""

from __future__ import annotations

import logging
import uuid

from django.db import transaction

from . import registry
from .conf import app_settings
from .models import Change, Delivery, Transition, TriggerEvent
from .signals import entity_changed
from .types import EntityChange, JSONDict

logger = logging.getLogger("checkstack.entities")

DerivedEvent = tuple[str, JSONDict, str | None]


def write_outbox(change: EntityChange, events: list[DerivedEvent]) -> None:
    row = Change(
        change_id=change.change_id,
        kind=change.kind,
        entity_id=change.entity_id,
        seq=change.seq,
        prev=change.prev,
        next=change.next,
        delta=change.delta,
        changed_fields=change.changed_fields,
        actor=change.actor,
        run_id=change.run_id,
        occurred_at=change.occurred_at,
        request_id=change.request_id,
    )
    Change.objects.bulk_create([row])
    if change.next is not None:
        Transition.objects.bulk_create(
            [
                Transition(
                    change_id=change.change_id,
                    kind=change.kind,
                    entity_id=change.entity_id,
                    field=field,
                    from_value=(change.prev or {}).get(field),
                    to_value=change.next.get(field),
                    occurred_at=change.occurred_at,
                )
                for field in change.changed_fields
            ]
        )
    event_ids: list[uuid.UUID] = []
    if events:
        rows = [
            TriggerEvent(
                id=uuid.uuid4(),
                event=trigger_id,
                payload=payload,
                context_key=context_key,
                change_id=change.change_id,
                actor=change.actor,
                created_at=change.occurred_at,
            )
            for trigger_id, payload, context_key in events
        ]
        TriggerEvent.objects.bulk_create(rows)
        event_ids = [r.id for r in rows]
    delivery_ids: list[int] = []
    queues = registry.work_queues_for(change.kind)
    if queues:
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(
                    change_id=change.change_id,
                    group=queue.group,
                    kind=change.kind,
                    entity_id=change.entity_id,
                    seq=change.seq,
                    max_attempts=queue.max_attempts,
                    created_at=change.occurred_at,
                    next_attempt_at=change.occurred_at,
                )
                for queue in queues
            ]
        )
        delivery_ids = [d.pk for d in deliveries if d.pk is not None]
    transaction.on_commit(lambda: after_commit(change, delivery_ids, event_ids), robust=True)


def enqueue(delivery_ids: list[int], event_ids: list[uuid.UUID]) -> None:
    """One django-q2 task per delivery and per trigger event.

    A broker failure is logged and swallowed: the rows stay pending and the sweeper
    re-enqueues them.
    """
    if not app_settings.ENQUEUE:
        return
    from django_q.tasks import async_task

    jobs: list[tuple[str, int | str]] = [
        ("checkstack.entities.tasks.deliver", d) for d in delivery_ids
    ]
    jobs += [("checkstack.entities.tasks.dispatch_trigger_event", str(e)) for e in event_ids]
    for func, arg in jobs:
        try:
            async_task(func, arg, task_name=f"{func.rsplit('.', 1)[1]}:{arg}")
        except Exception:
            logger.exception("Could not enqueue %s(%s); the sweeper will pick it up", func, arg)


def after_commit(change: EntityChange, delivery_ids: list[int], event_ids: list[uuid.UUID]) -> None:
    """Runs once the outermost transaction committed."""
    enqueue(delivery_ids, event_ids)
    for receiver, result in entity_changed.send_robust(sender=change.kind, change=change):
        if isinstance(result, Exception):
            logger.error(
                "entity_changed receiver %r failed for %s:%s #%s",
                receiver,
                change.kind,
                change.entity_id,
                change.seq,
                exc_info=result,
            )
    for handler in registry.broadcast_handlers_for(change.kind):
        try:
            handler(change)
        except Exception:
            logger.exception(
                "Broadcast subscriber %r failed for %s:%s #%s",
                handler,
                change.kind,
                change.entity_id,
                change.seq,
            )
