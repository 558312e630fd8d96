"""The entity handle: the only way reactive state is written.

One write, one transaction: lock the entity → read ``prev`` → ``apply()`` → read and validate
``next`` → diff (masked when a run id is given) → insert the change, its field transitions, the
derived trigger events and one delivery row per durable subscriber (the outbox) → after COMMIT,
notify in-process subscribers and hand the outbox rows to the workers.

A write nested in another one's ``apply`` (an incident's timeline update) joins its transaction
without a savepoint, and its change is inserted with the outer write's (one statement on
PostgreSQL), or before a later write of the same entity locks it; writing an entity inside its
own write's ``apply`` is refused (its two changes would claim one ``seq``).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db import connection, transaction
from django.utils import timezone
from pydantic import BaseModel

from checkstack.errors import RegistrationError, UnknownTrigger

from . import registry
from .context import current_request_id
from .diff import changed_fields, delta_of
from .locks import lock_and_read, lock_entity, lock_timeout_as, release_seq
from .masking import mask_value, secrets_for
from .models import Change, Transition
from .outbox import write_outbox
from .sql import LinkedRowsRead
from .types import Actor, EntityChange, JSONDict, normalize_actor

if TYPE_CHECKING:
    from django.db.models import QuerySet

S = TypeVar("S", bound=BaseModel)

ReadFn = Callable[[list[str]], Mapping[str, Any]]
LockFn = Callable[[list[str]], Any]
ApplyFn = Callable[[Any], Any]

Logged = tuple[EntityChange, list[tuple[str, JSONDict, str | None]]]  # a change, its events


class _OuterWrite:
    """The outermost entity write of this context, while it runs: the entities whose writes
    are in progress (it and those nested in its ``apply``), and the changes nested writes
    logged, to be inserted with the outer write's own (one statement on PostgreSQL)."""

    def __init__(self) -> None:
        self.active: list[tuple[str, str]] = []
        self.pending: list[Logged] = []

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        write_outbox(pending)


# Set while an entity write runs: a write nested in another one's ``apply`` joins its
# transaction without a savepoint of its own, and its change joins the outer write's insert.
_writing: contextvars.ContextVar[_OuterWrite | None] = contextvars.ContextVar(
    "entity_writing", default=None
)


class EntityHandle(Generic[S]):
    """Reads and writes one entity kind; create with ``define_entity``."""

    def __init__(self, kind: str, state: type[S], read: ReadFn, lock: LockFn | None = None) -> None:
        self.kind = kind
        self.state = state
        self._read = read
        self._lock = lock

    def __repr__(self) -> str:
        return f"<EntityHandle {self.kind}>"

    # -- reads -----------------------------------------------------------------------------

    def get(self, entity_id: str) -> S | None:
        entity_id = str(entity_id)
        value = self._read([entity_id]).get(entity_id)
        return self._validate(value) if value is not None else None

    def get_many(self, ids: Iterable[str]) -> dict[str, S]:
        wanted = list(dict.fromkeys(str(i) for i in ids))
        if not wanted:
            return {}
        raw = self._read(wanted)
        return {i: self._validate(raw[i]) for i in wanted if raw.get(i) is not None}

    def history(self, entity_id: str) -> QuerySet[Change]:
        return Change.objects.filter(kind=self.kind, entity_id=str(entity_id)).order_by("seq")

    def in_state_since(self, entity_id: str, field: str) -> dt.datetime | None:
        """When ``field`` last changed to its current value; None if unknown or deleted.

        Only the entity's current life counts: transitions before its last tombstone do not.
        """
        changes = Change.objects.filter(kind=self.kind, entity_id=str(entity_id))
        latest = changes.order_by("-seq").values_list("next", flat=True).first()
        if latest is None:  # never written, or the last change is a tombstone
            return None
        transitions = Transition.objects.filter(
            kind=self.kind, entity_id=str(entity_id), field=field
        )
        last_tombstone = (
            changes.filter(next__isnull=True).order_by("-seq").values_list("seq", flat=True).first()
        )
        if last_tombstone is not None:
            transitions = transitions.filter(change__seq__gt=last_tombstone)
        return (
            transitions.order_by("-occurred_at", "-id")
            .values_list("occurred_at", flat=True)
            .first()
        )

    def in_state_for(self, entity_id: str, field: str) -> dt.timedelta:
        since = self.in_state_since(entity_id, field)
        if since is None:
            return dt.timedelta(0)
        return max(dt.timedelta(0), timezone.now() - since)

    def transition_count(self, entity_id: str, field: str, window: dt.timedelta) -> int:
        """How many times ``field`` changed within the last ``window``."""
        return Transition.objects.filter(
            kind=self.kind,
            entity_id=str(entity_id),
            field=field,
            occurred_at__gte=timezone.now() - window,
        ).count()

    # -- writes ----------------------------------------------------------------------------

    def mutate(
        self,
        entity_id: str,
        apply: ApplyFn,
        *,
        actor: Actor | Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> S | None:
        """Run ``apply(prev)`` under the entity lock and log the difference it made.

        ``apply`` gets the current state (a state model, or None when the entity does not exist
        yet) and does the domain write on the default connection. Returns the next state,
        unmasked (None if ``apply`` deleted the entity, which is logged as a tombstone).
        """
        return self._write(str(entity_id), apply, actor=actor, run_id=run_id, removing=False)

    def create(
        self,
        entity_id: str,
        apply: ApplyFn,
        *,
        actor: Actor | Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> S | None:
        """``mutate`` for an entity that does not exist yet: ``apply(None)`` must insert its
        owning row (a plain INSERT), so that it fails, and the write rolls back, if the entity
        does exist. ``prev`` is then None by construction and is not read."""
        return self._write(
            str(entity_id), apply, actor=actor, run_id=run_id, removing=False, creating=True
        )

    def remove(
        self,
        entity_id: str,
        apply: ApplyFn,
        *,
        actor: Actor | Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Run ``apply(prev)`` (which deletes the domain rows) and log a tombstone."""
        self._write(str(entity_id), apply, actor=actor, run_id=run_id, removing=True)

    def _write(
        self,
        entity_id: str,
        apply: ApplyFn,
        *,
        actor: Actor | Mapping[str, Any] | None,
        run_id: str | None,
        removing: bool,
        creating: bool = False,
    ) -> S | None:
        if not entity_id:
            raise ValueError(f"{self.kind}: entity id must be a non-empty string")
        actor_data = normalize_actor(actor)
        run_id = str(run_id) if run_id is not None else None
        key = (self.kind, entity_id)
        outer = _writing.get()
        if outer is None:
            write = _OuterWrite()
            token = _writing.set(write)
        else:
            write, token = outer, None
            if key in outer.active:
                raise RuntimeError(
                    f"{self.kind}:{entity_id} is written inside its own write's apply; "
                    "change it in that apply instead"
                )
            if any((c.kind, c.entity_id) == key for c, _ in outer.pending):
                outer.flush()  # its seq is stored by that insert (PostgreSQL: see ``locks``)
        write.active.append(key)
        try:
            return self._write_locked(
                entity_id, apply, actor_data, run_id, removing, creating, write, outer is None
            )
        finally:
            write.active.pop()
            if token is not None:
                _writing.reset(token)

    def _write_locked(
        self,
        entity_id: str,
        apply: ApplyFn,
        actor_data: JSONDict,
        run_id: str | None,
        removing: bool,
        creating: bool,
        write: _OuterWrite,
        outermost: bool,
    ) -> S | None:
        # Nested in another entity write's ``apply`` (an incident's timeline update): no
        # savepoint, as an error here fails the outer write too, which then rolls back whole.
        with (
            lock_timeout_as(f"entity:{self.kind}:{entity_id}"),
            transaction.atomic(savepoint=outermost),
        ):
            if creating:
                seq, now = lock_entity(self.kind, entity_id)
                if self._lock is not None:
                    self._lock([entity_id])
                prev = None
            elif self._folds_read():
                seq, now, state, current = lock_and_read(self.kind, entity_id, self._read)
                if current:
                    prev = self._validate(state) if state is not None else None
                else:  # a writer committed while this one waited for the lock: read again
                    prev = self.get(entity_id)
            else:
                seq, now = lock_entity(self.kind, entity_id)
                if self._lock is not None:
                    self._lock([entity_id])
                prev = self.get(entity_id)
            apply(prev)
            next_ = None if removing else self.get(entity_id)
            logged = self._record(entity_id, seq, now, prev, next_, actor_data, run_id)
            if logged is not None:
                write.pending.append(logged)
            if outermost:
                write.flush()
            if logged is None:
                release_seq(self.kind, entity_id)
        return next_

    def _folds_read(self) -> bool:
        """Whether the prev read goes into the lock statement (PostgreSQL, a ``LinkedRowsRead``
        accessor and no extra ``lock`` to take between the lock and the read)."""
        return (
            self._lock is None
            and isinstance(self._read, LinkedRowsRead)
            and connection.vendor == "postgresql"
        )

    def _record(
        self,
        entity_id: str,
        seq: int,
        now: dt.datetime,
        prev: S | None,
        next_: S | None,
        actor: JSONDict,
        run_id: str | None,
    ) -> Logged | None:
        """The change ``prev`` → ``next_`` and its trigger events; None when nothing changed."""
        secrets = secrets_for(run_id)
        prev_data = mask_value(prev.model_dump(mode="json"), secrets) if prev is not None else None
        next_data = (
            mask_value(next_.model_dump(mode="json"), secrets) if next_ is not None else None
        )
        if prev_data is None and next_data is None:
            return None  # removing (or writing) something that never existed
        fields = changed_fields(prev_data, next_data)
        if next_data is not None and not fields:
            return None
        change = EntityChange(
            change_id=uuid.uuid4(),
            kind=self.kind,
            entity_id=entity_id,
            seq=seq,
            prev=prev_data,
            next=next_data,
            delta=delta_of(next_data, fields),
            changed_fields=fields,
            actor=actor,
            run_id=run_id,
            occurred_at=now,
            request_id=current_request_id.get(),
        )
        return change, self._trigger_events(change)

    def _trigger_events(self, change: EntityChange) -> list[tuple[str, JSONDict, str | None]]:
        """(trigger id, validated payload, context key) for each derived trigger."""
        trigger_ids = registry.derive_trigger_ids(change)
        if not trigger_ids:
            return []
        mapper = registry.payload_mapper_for(self.kind) or default_payload
        payload = mapper(change)
        events: list[tuple[str, JSONDict, str | None]] = []
        for trigger_id in trigger_ids:
            trigger = registry.find_trigger(trigger_id)
            if trigger is None:
                raise UnknownTrigger(
                    f"Deriver of {self.kind!r} produced unregistered trigger {trigger_id!r}"
                )
            validated = trigger.validate_payload(payload)
            context_key = trigger.context_key(validated)
            events.append((trigger_id, validated, context_key or change.entity_id))
        return events

    def _validate(self, value: Any) -> S:
        if isinstance(value, self.state):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump()
        return self.state.model_validate(value)


def default_payload(change: EntityChange) -> JSONDict:
    """``{kind, id, prev, next, delta, changedFields}`` with ``next``'s fields spread in."""
    return {
        **(change.next or {}),
        "kind": change.kind,
        "id": change.entity_id,
        "prev": change.prev,
        "next": change.next,
        "delta": change.delta,
        "changedFields": change.changed_fields,
    }


def define_entity(
    *, kind: str, state: type[S], read: ReadFn, lock: LockFn | None = None
) -> EntityHandle[S]:
    """Register an entity kind and return its handle.

    ``state``: pydantic model of the reactive fields. ``read(ids) -> {id: state}``: batched
    accessor (ids without state are absent). ``lock(ids)``: optional extra row locks on the
    owning rows, taken after the entity lock.
    """
    if not isinstance(kind, str) or not kind.strip():
        raise RegistrationError("Entity kind must be a non-empty string")
    if len(kind) > 100:
        raise RegistrationError(f"Entity kind {kind[:20]!r}... is longer than 100 characters")
    if not (isinstance(state, type) and issubclass(state, BaseModel)):
        raise RegistrationError(f"Entity kind {kind!r}: state must be a pydantic model class")
    if not callable(read):
        raise RegistrationError(f"Entity kind {kind!r}: read must be callable")
    if lock is not None and not callable(lock):
        raise RegistrationError(f"Entity kind {kind!r}: lock must be callable")
    handle = EntityHandle(kind, state, read, lock)
    registry.add_handle(handle)
    return handle
