"""The entity change log of a benchmark's rows: written for rows it bulk-inserts (as a service
create would have), found and deleted again after the run (with the outbox rows it caused).

``Entities`` names the rows: every entity of a kind, those with given ids, or those whose id
starts with a prefix.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from django.db.models import Q

from checkstack.entities.diff import changed_fields, delta_of
from checkstack.entities.models import Change, Delivery, EntitySequence, Transition, TriggerEvent
from checkstack.entities.outbox import DISPATCH_TASK

from .batches import chunks
from .queue import Job, delivery_jobs, jobs

BATCH = 1000  # rows per bulk INSERT


@dataclasses.dataclass(frozen=True)
class Entities:
    """Entities of ``kind``: those in ``ids``, else those whose id starts with ``prefix``."""

    kind: str
    ids: Collection[str] | None = None
    prefix: str = ""

    def filters(self) -> Iterator[Q]:
        """Filters on ``kind`` and ``entity_id``, each with a bounded ``IN`` list."""
        if self.ids is None:
            yield Q(kind=self.kind, entity_id__startswith=self.prefix)
            return
        for part in chunks(sorted(self.ids)):
            yield Q(kind=self.kind, entity_id__in=part)


def trigger_event_ids(entities: Iterable[Entities]) -> set[str]:
    return {
        str(pk)
        for group in entities
        for q in group.filters()
        for pk in TriggerEvent.objects.filter(change__in=Change.objects.filter(q)).values_list(
            "pk", flat=True
        )
    }


def deliveries(entities: Iterable[Entities]) -> list[tuple[int, Any, str]]:
    """``(id, change id, group)`` of the entities' deliveries."""
    return [
        row
        for group in entities
        for q in group.filters()
        for row in Delivery.objects.filter(q).values_list("pk", "change_id", "group")
    ]


def outbox_jobs(entities: Collection[Entities]) -> set[Job]:
    """The django-q2 jobs of the entities' trigger events and deliveries."""
    return jobs(DISPATCH_TASK, trigger_event_ids(entities)) | delivery_jobs(deliveries(entities))


def delete_change_log(entities: Iterable[Entities]) -> dict[str, int]:
    """Delete the entities' trigger events, deliveries, transitions, changes and sequence rows
    (in that order: the outbox rows protect their change); how many of each."""
    counts = dict.fromkeys(
        ("trigger_events", "deliveries", "transitions", "changes", "sequences"), 0
    )
    for group in entities:
        for q in group.filters():
            counts["trigger_events"] += TriggerEvent.objects.filter(
                change__in=Change.objects.filter(q)
            ).delete()[0]
            counts["deliveries"] += Delivery.objects.filter(q).delete()[0]
            counts["transitions"] += Transition.objects.filter(q).delete()[0]
            counts["changes"] += Change.objects.filter(q).delete()[0]
            counts["sequences"] += EntitySequence.objects.filter(q).delete()[0]
    return counts


def write_create_log(
    kind: str,
    states: dict[str, dict[str, Any]],
    at: dict[str, dt.datetime],
    *,
    actor: dict[str, str],
) -> None:
    """Sequence, create change and transitions per entity, as ``handle.mutate`` writes them
    (no trigger events or deliveries: no automation or subscriber sees the rows)."""
    sequences, changes, transitions = [], [], []
    for entity_id, state in states.items():
        fields = changed_fields(None, state)
        change_id = uuid.uuid4()
        sequences.append(EntitySequence(kind=kind, entity_id=entity_id, last_seq=1))
        changes.append(
            Change(
                change_id=change_id,
                kind=kind,
                entity_id=entity_id,
                seq=1,
                prev=None,
                next=state,
                delta=delta_of(state, fields),
                changed_fields=fields,
                actor=actor,
                occurred_at=at[entity_id],
            )
        )
        transitions += [
            Transition(
                change_id=change_id,
                kind=kind,
                entity_id=entity_id,
                field=field,
                from_value=None,
                to_value=state.get(field),
                occurred_at=at[entity_id],
            )
            for field in fields
        ]
    EntitySequence.objects.bulk_create(sequences, batch_size=BATCH)
    Change.objects.bulk_create(changes, batch_size=BATCH)
    Transition.objects.bulk_create(transitions, batch_size=BATCH)
