"""Process-wide registry of entity kinds, change derivers, payload mappers and subscribers.

Also the port to the trigger engine above this layer: the automation app connects the trigger
lookup (payload schema and context key of each trigger id) and the dispatcher of stored trigger
events in its ``ready()``, so the entity layer never imports automation.

Filled in ``AppConfig.ready()``; importable and usable without a database.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from checkstack.errors import RegistrationError

from .types import Broadcast, EntityChange, JSONDict, WorkQueue

if TYPE_CHECKING:
    from .handle import EntityHandle
    from .models import TriggerEvent

logger = logging.getLogger("checkstack.entities")

Deriver = Callable[[EntityChange], list[str]]
PayloadMapper = Callable[[EntityChange], JSONDict]
Handler = Callable[[EntityChange], Any]


@dataclasses.dataclass(frozen=True, eq=False)
class Subscription:
    kind: str
    handler: Handler
    delivery: WorkQueue | Broadcast


@dataclasses.dataclass(frozen=True, eq=False)
class DeriverRegistration:
    derive: Deriver
    emits: tuple[str, ...]


class TriggerSchema(Protocol):
    """What the write path needs of a trigger: its payload schema and its context key."""

    def validate_payload(self, payload: JSONDict) -> JSONDict: ...

    def context_key(self, payload: JSONDict) -> str | None: ...


TriggerLookup = Callable[[str], TriggerSchema | None]
TriggerDispatcher = Callable[["TriggerEvent"], None]


_handles: dict[str, EntityHandle] = {}
_derivers: dict[str, list[DeriverRegistration]] = {}
_payload_mappers: dict[str, PayloadMapper] = {}
_subscriptions: dict[str, list[Subscription]] = {}


def add_handle(handle: EntityHandle) -> None:
    if handle.kind in _handles:
        raise RegistrationError(f"Entity kind {handle.kind!r} is already defined")
    _handles[handle.kind] = handle


def find_handle(kind: str) -> EntityHandle | None:
    return _handles.get(kind)


def get_handle(kind: str) -> EntityHandle:
    """The handle of a defined kind; ``LookupError`` names the kind otherwise."""
    try:
        return _handles[kind]
    except KeyError:
        raise LookupError(f"Entity kind {kind!r} is not defined (is its app installed?)") from None


def kinds() -> list[str]:
    return sorted(_handles)


def register_change_deriver(
    kind: str,
    derive: Deriver,
    to_payload: PayloadMapper | None = None,
    *,
    emits: Iterable[str] = (),
) -> None:
    """Derive trigger ids from each change of ``kind``.

    Derivers run in registration order inside the write transaction; their results are
    unioned in first-seen order and a raising deriver is logged and skipped. The same function
    registered twice counts once. ``to_payload`` maps a change to the trigger payload; a kind has
    at most one. ``emits`` names the trigger ids the deriver can produce, so a system check can
    report ids that no trigger is registered for.
    """
    if not isinstance(kind, str) or not kind.strip():
        raise RegistrationError("A change deriver needs a non-empty kind")
    if not callable(derive):
        raise RegistrationError(f"Change deriver for {kind!r} must be callable")
    if to_payload is not None:
        if not callable(to_payload):
            raise RegistrationError(f"Payload mapper for {kind!r} must be callable")
        existing = _payload_mappers.get(kind)
        if existing is not None and existing is not to_payload:
            raise RegistrationError(f"Entity kind {kind!r} already has a different payload mapper")
        _payload_mappers[kind] = to_payload
    registrations = _derivers.setdefault(kind, [])
    if any(r.derive is derive for r in registrations):
        return
    registrations.append(DeriverRegistration(derive, tuple(emits)))


def derivers_for(kind: str) -> list[DeriverRegistration]:
    return list(_derivers.get(kind, ()))


def payload_mapper_for(kind: str) -> PayloadMapper | None:
    return _payload_mappers.get(kind)


def derive_trigger_ids(change: EntityChange) -> list[str]:
    """Union of every deriver's trigger ids in first-seen order; raising derivers are skipped."""
    seen: dict[str, None] = {}
    for registration in _derivers.get(change.kind, ()):
        try:
            ids = registration.derive(change)
        except Exception:
            logger.exception(
                "Change deriver %r failed for %s:%s #%s; skipped",
                getattr(registration.derive, "__qualname__", registration.derive),
                change.kind,
                change.entity_id,
                change.seq,
            )
            continue
        for trigger_id in ids or ():
            seen.setdefault(trigger_id, None)
    return list(seen)


def on_entity_changed(
    kind: str, handler: Handler, delivery: WorkQueue | Broadcast | None = None
) -> Callable[[], None]:
    """Subscribe ``handler`` to the changes of ``kind``; returns ``unsubscribe``.

    ``WorkQueue(group)``: durable, one outbox row per change, handled once by a worker.
    ``Broadcast()`` (default): called after commit in the committing process, best effort.
    The kind may be defined later (or never, when its app is not installed).
    """
    if not isinstance(kind, str) or not kind.strip():
        raise RegistrationError("A subscriber needs a non-empty kind")
    if not callable(handler):
        raise RegistrationError(f"Subscriber for {kind!r} must be callable")
    delivery = delivery if delivery is not None else Broadcast()
    if not isinstance(delivery, (WorkQueue, Broadcast)):
        raise RegistrationError("delivery must be WorkQueue(...) or Broadcast()")
    subscriptions = _subscriptions.setdefault(kind, [])
    if isinstance(delivery, WorkQueue) and any(
        isinstance(s.delivery, WorkQueue) and s.delivery.group == delivery.group
        for s in subscriptions
    ):
        raise RegistrationError(
            f"Work queue group {delivery.group!r} already has a subscriber for {kind!r}"
        )
    subscription = Subscription(kind, handler, delivery)
    subscriptions.append(subscription)

    def unsubscribe() -> None:
        current = _subscriptions.get(kind, [])
        if subscription in current:
            current.remove(subscription)

    return unsubscribe


def work_queues_for(kind: str) -> list[WorkQueue]:
    return [s.delivery for s in _subscriptions.get(kind, ()) if isinstance(s.delivery, WorkQueue)]


def work_queue_handler(kind: str, group: str) -> Subscription | None:
    for s in _subscriptions.get(kind, ()):
        if isinstance(s.delivery, WorkQueue) and s.delivery.group == group:
            return s
    return None


def broadcast_handlers_for(kind: str) -> list[Handler]:
    return [s.handler for s in _subscriptions.get(kind, ()) if isinstance(s.delivery, Broadcast)]


_trigger_lookup: TriggerLookup | None = None
_dispatch_trigger_event: TriggerDispatcher | None = None


def connect_trigger_engine(*, lookup: TriggerLookup, dispatch: TriggerDispatcher) -> None:
    """Connect the trigger engine: ``lookup(trigger_id)`` gives a trigger's schema (None when
    unknown), ``dispatch(event)`` handles a stored trigger event inside the transaction that
    marks it dispatched. Called once by the automation app's ``ready()``."""
    global _trigger_lookup, _dispatch_trigger_event
    if not callable(lookup) or not callable(dispatch):
        raise RegistrationError("The trigger engine needs a callable lookup and dispatch")
    _trigger_lookup, _dispatch_trigger_event = lookup, dispatch


def find_trigger(trigger_id: str) -> TriggerSchema | None:
    """The registered trigger ``trigger_id``; None when unknown or no engine is connected."""
    return _trigger_lookup(trigger_id) if _trigger_lookup is not None else None


def trigger_dispatcher() -> TriggerDispatcher:
    """The connected dispatcher of trigger events (trigger events exist only when an engine
    is connected: without one, no trigger id can be derived)."""
    if _dispatch_trigger_event is None:
        raise RegistrationError(
            "No trigger engine is connected (is checkstack.automation in INSTALLED_APPS?)"
        )
    return _dispatch_trigger_event


def all_derivers() -> dict[str, list[DeriverRegistration]]:
    return {kind: list(regs) for kind, regs in _derivers.items()}


def snapshot() -> tuple[dict[str, Any], ...]:
    """Copies of the registries, for tests that define temporary kinds."""
    return (
        dict(_handles),
        {k: list(v) for k, v in _derivers.items()},
        dict(_payload_mappers),
        {k: list(v) for k, v in _subscriptions.items()},
    )


def restore(state: tuple[dict[str, Any], ...]) -> None:
    registries: tuple[dict[str, Any], ...] = (_handles, _derivers, _payload_mappers, _subscriptions)
    for registry, saved in zip(registries, state, strict=True):
        registry.clear()
        registry.update(saved)
