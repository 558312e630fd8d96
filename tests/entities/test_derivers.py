"""Derived trigger events: deriver order and union, payload mappers, trigger validation, checks."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from pydantic import BaseModel

from checkstack.automation import register_trigger
from checkstack.entities import EntityChange, register_change_deriver
from checkstack.entities.checks import check_derivers
from checkstack.entities.models import Change, TriggerEvent
from checkstack.entities.registry import derive_trigger_ids
from checkstack.errors import RegistrationError, TriggerPayloadInvalid, UnknownTrigger
from tests.entities import AnyPayload, memory_entity
from tests.testapp.entity import create_widget
from tests.testapp.models import Widget

pytestmark = pytest.mark.django_db

USER_ACTOR = {"type": "user", "id": "u-1", "name": "Ann"}


def register_any_trigger(
    trigger_id: str, context_key: Callable[[Mapping[str, Any]], str | None] | None = None
) -> None:
    register_trigger(trigger_id, trigger_id, "test trigger", "Tests", AnyPayload, context_key)


def emitting(*trigger_ids: str, calls: list[str] | None = None, name: str = "") -> Any:
    """A deriver returning ``trigger_ids`` (recording ``name`` in ``calls`` when given)."""

    def derive(change: EntityChange) -> list[str]:
        if calls is not None:
            calls.append(name)
        return list(trigger_ids)

    return derive


def events_of(kind: str, entity_id: str) -> list[str]:
    return sorted(
        TriggerEvent.objects.filter(change__kind=kind, change__entity_id=entity_id).values_list(
            "event", flat=True
        )
    )


def update_widget(widget_id: str, **fields: Any) -> Callable[[Any], None]:
    def apply(prev: Any) -> None:
        Widget.objects.filter(id=widget_id).update(**fields)

    return apply


def test_derivers_run_in_registration_order_and_are_unioned_in_first_seen_order(
    isolated_registries,
):
    handle, store = memory_entity("gadget")
    for trigger_id in ("gadget.a", "gadget.b", "gadget.c"):
        register_any_trigger(trigger_id)
    calls: list[str] = []
    register_change_deriver("gadget", emitting("gadget.b", "gadget.a", calls=calls, name="first"))
    register_change_deriver("gadget", emitting("gadget.a", "gadget.c", calls=calls, name="second"))
    register_change_deriver("gadget", emitting("gadget.b", calls=calls, name="third"))

    handle.mutate("g1", store.put("g1", {"status": "on"}))

    assert calls == ["first", "second", "third"]
    assert events_of("gadget", "g1") == ["gadget.a", "gadget.b", "gadget.c"]
    change = handle.history("g1").get()
    assert derive_trigger_ids(EntityChange(**_change_fields(change))) == [
        "gadget.b",
        "gadget.a",
        "gadget.c",
    ]


def _change_fields(row: Change) -> dict[str, Any]:
    return {
        "change_id": row.change_id,
        "kind": row.kind,
        "entity_id": row.entity_id,
        "seq": row.seq,
        "prev": row.prev,
        "next": row.next,
        "delta": row.delta,
        "changed_fields": row.changed_fields,
        "actor": row.actor,
        "run_id": row.run_id,
        "occurred_at": row.occurred_at,
        "request_id": row.request_id,
    }


def test_raising_deriver_is_logged_and_skipped(isolated_registries, caplog):
    handle, store = memory_entity("gadget")
    register_any_trigger("gadget.a")
    register_any_trigger("gadget.b")

    def broken(change: EntityChange) -> list[str]:
        raise RuntimeError("deriver bug")

    register_change_deriver("gadget", emitting("gadget.a"))
    register_change_deriver("gadget", broken)
    register_change_deriver("gadget", emitting("gadget.b"))

    with caplog.at_level(logging.ERROR):
        handle.mutate("g1", store.put("g1", {"status": "on"}))

    assert events_of("gadget", "g1") == ["gadget.a", "gadget.b"]
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert len(failures) == 1
    assert isinstance(failures[0].exc_info[1], RuntimeError)
    assert "broken" in failures[0].getMessage()


def test_same_deriver_registered_twice_counts_once(isolated_registries):
    handle, store = memory_entity("gadget")
    register_any_trigger("gadget.a")
    calls: list[str] = []
    derive = emitting("gadget.a", calls=calls, name="once")
    register_change_deriver("gadget", derive)
    register_change_deriver("gadget", derive)

    handle.mutate("g1", store.put("g1", {"status": "on"}))

    assert calls == ["once"]
    assert events_of("gadget", "g1") == ["gadget.a"]


def test_a_second_different_payload_mapper_raises(isolated_registries):
    def mapper(change: EntityChange) -> dict[str, Any]:
        return {}

    def other_mapper(change: EntityChange) -> dict[str, Any]:
        return {}

    register_change_deriver("gadget", emitting(), mapper)

    with pytest.raises(RegistrationError):
        register_change_deriver("gadget", emitting(), other_mapper)


def test_the_same_payload_mapper_twice_is_fine(isolated_registries):
    handle, store = memory_entity("gadget")
    register_any_trigger("gadget.a")

    def mapper(change: EntityChange) -> dict[str, Any]:
        return {"mapped": change.entity_id}

    register_change_deriver("gadget", emitting("gadget.a"), mapper)
    register_change_deriver("gadget", emitting("gadget.a"), mapper)

    handle.mutate("g1", store.put("g1", {"status": "on"}))

    assert [e.payload for e in TriggerEvent.objects.filter(change__entity_id="g1")] == [
        {"mapped": "g1"}
    ]


def test_default_payload_is_the_change_with_next_fields_spread(isolated_registries):
    handle, store = memory_entity("gadget")
    register_any_trigger("gadget.changed")
    register_change_deriver("gadget", emitting("gadget.changed"))
    handle.mutate("g1", store.put("g1", {"status": "on", "order": ["x"]}))

    handle.mutate("g1", store.put("g1", {"status": "off", "order": ["x"], "owner": "ann"}))

    change = handle.history("g1").last()
    event = TriggerEvent.objects.get(change=change)
    next_state = {"status": "off", "labels": {}, "order": ["x"], "owner": "ann"}
    assert change.next == next_state
    assert event.payload == {
        **next_state,
        "kind": "gadget",
        "id": "g1",
        "prev": {"status": "on", "labels": {}, "order": ["x"], "owner": None},
        "next": next_state,
        "delta": {"owner": "ann", "status": "off"},
        "changedFields": ["owner", "status"],
    }


def test_stored_payload_is_the_validated_json_of_the_trigger_schema(isolated_registries):
    class CountedPayload(BaseModel):
        id: str
        at: dt.datetime
        count: int

    handle, store = memory_entity("gadget")
    register_trigger("gadget.counted", "Counted", "test", "Tests", CountedPayload)

    def mapper(change: EntityChange) -> dict[str, Any]:
        return {"id": change.entity_id, "at": change.occurred_at, "count": "3"}

    register_change_deriver("gadget", emitting("gadget.counted"), mapper)

    handle.mutate("g1", store.put("g1", {"status": "on"}))

    change = handle.history("g1").get()
    payload = TriggerEvent.objects.get(change=change).payload
    assert payload["id"] == "g1"
    assert payload["count"] == 3
    assert dt.datetime.fromisoformat(payload["at"]) == change.occurred_at


def test_unregistered_derived_trigger_raises_and_rolls_back(widgets):
    create_widget(widgets, "w1", status="open")
    register_change_deriver("widget", emitting("widget.unheard-of"))

    with pytest.raises(UnknownTrigger):
        widgets.mutate("w1", update_widget("w1", status="closed"))

    assert Widget.objects.get(id="w1").status == "open"
    assert list(widgets.history("w1").values_list("seq", flat=True)) == [1]
    assert events_of("widget", "w1") == ["widget.created"]


def test_payload_failing_its_trigger_schema_raises_and_rolls_back(widgets):
    class StrictPayload(BaseModel):
        widgetId: str
        assignee: str  # the widget payload never has it

    register_trigger("widget.assigned", "Assigned", "test", "Tests", StrictPayload)
    register_change_deriver("widget", emitting("widget.assigned"))

    with pytest.raises(TriggerPayloadInvalid):
        create_widget(widgets, "w1", status="open")

    assert not Widget.objects.filter(id="w1").exists()
    assert not widgets.history("w1").exists()
    assert not TriggerEvent.objects.filter(event__startswith="widget.").exists()


def test_trigger_event_rows_carry_context_key_change_and_actor(isolated_registries):
    handle, store = memory_entity("gadget")
    register_any_trigger("gadget.keyed", context_key=lambda payload: f"ctx:{payload['id']}")
    register_change_deriver("gadget", emitting("gadget.keyed"))

    handle.mutate("g1", store.put("g1", {"status": "on"}), actor=USER_ACTOR)

    change = handle.history("g1").get()
    event = TriggerEvent.objects.get(change=change)
    assert event.event == "gadget.keyed"
    assert event.context_key == "ctx:g1"
    assert event.change_id == change.change_id
    assert event.actor == USER_ACTOR
    assert event.dispatched_at is None


def test_trigger_without_context_key_function_uses_the_entity_id(isolated_registries):
    handle, store = memory_entity("gadget")
    register_any_trigger("gadget.plain")
    register_change_deriver("gadget", emitting("gadget.plain"))

    handle.mutate("g1", store.put("g1", {"status": "on"}))

    assert TriggerEvent.objects.get(change__entity_id="g1").context_key == "g1"


def test_system_check_reports_derivers_emitting_unregistered_triggers(isolated_registries):
    memory_entity("gadget")
    register_any_trigger("gadget.known")

    def derive_gadget_events(change: EntityChange) -> list[str]:
        return []

    register_change_deriver("gadget", derive_gadget_events, emits=("gadget.known", "gadget.nope"))

    messages = [m for m in check_derivers() if "'gadget'" in m.msg]

    assert [m.id for m in messages] == ["checkstack_entities.E001"]
    assert "gadget.nope" in messages[0].msg
    assert "gadget.known" not in messages[0].msg


def test_system_check_accepts_derivers_emitting_registered_triggers(widgets):
    assert [m for m in check_derivers() if "'widget'" in m.msg] == []
