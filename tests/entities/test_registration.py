"""Registration: errors raised at import/ready time, unsubscribe, and the public import surface."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal

from checkstack.entities import registry
from checkstack.errors import RegistrationError
from tests.entities import GadgetState, memory_entity


def read_nothing(ids: list[str]) -> dict[str, Any]:
    return {}


def test_public_names_are_importable():
    from checkstack.entities import (
        SYSTEM_ACTOR,
        Broadcast,
        EntityChange,
        WorkQueue,
        advisory_lock,
        define_entity,
        entity_changed,
        forget_run,
        on_entity_changed,
        register_change_deriver,
        register_run_secret,
    )

    assert SYSTEM_ACTOR == {"type": "system", "id": "system", "name": "System"}
    assert isinstance(entity_changed, Signal)
    for function in (
        define_entity,
        on_entity_changed,
        register_change_deriver,
        advisory_lock,
        register_run_secret,
        forget_run,
    ):
        assert callable(function)
    assert WorkQueue("cleanup").max_attempts == 8
    assert isinstance(Broadcast(), Broadcast)
    assert {"change_id", "seq", "prev", "next", "delta", "changed_fields"} <= set(
        EntityChange.__dataclass_fields__
    )


def test_registration_error_is_an_improperly_configured():
    assert issubclass(RegistrationError, ImproperlyConfigured)


@pytest.mark.parametrize("kind", ["", "   "])
def test_empty_kind_raises(isolated_registries, kind):
    from checkstack.entities import define_entity

    with pytest.raises(RegistrationError):
        define_entity(kind=kind, state=GadgetState, read=read_nothing)


def test_duplicate_kind_raises_and_keeps_the_first(isolated_registries):
    from checkstack.entities import define_entity

    first, _ = memory_entity("gadget")

    with pytest.raises(RegistrationError):
        define_entity(kind="gadget", state=GadgetState, read=read_nothing)

    assert registry.get_handle("gadget") is first


def test_read_not_callable_raises(isolated_registries):
    from checkstack.entities import define_entity

    with pytest.raises(RegistrationError):
        define_entity(kind="gadget", state=GadgetState, read={"g1": {"status": "on"}})  # type: ignore[arg-type]

    assert "gadget" not in registry.kinds()


@pytest.mark.parametrize("state", [dict, GadgetState(status="on"), "GadgetState"])
def test_state_that_is_not_a_pydantic_model_raises(isolated_registries, state):
    from checkstack.entities import define_entity

    with pytest.raises(RegistrationError):
        define_entity(kind="gadget", state=state, read=read_nothing)

    assert "gadget" not in registry.kinds()


@pytest.mark.parametrize("group", ["", "  "])
def test_work_queue_with_an_empty_group_raises(group):
    from checkstack.entities import WorkQueue

    with pytest.raises(RegistrationError):
        WorkQueue(group)


def test_two_different_payload_mappers_for_one_kind_raise(isolated_registries):
    from checkstack.entities import register_change_deriver

    def derive(change: Any) -> list[str]:
        return []

    register_change_deriver("gadget", derive, lambda change: {"one": 1})

    with pytest.raises(RegistrationError):
        register_change_deriver("gadget", derive, lambda change: {"two": 2})


def test_two_subscribers_with_the_same_work_queue_group_on_one_kind_raise(isolated_registries):
    from checkstack.entities import WorkQueue, on_entity_changed

    on_entity_changed("gadget", lambda change: None, WorkQueue("gadget-cleanup"))

    with pytest.raises(RegistrationError):
        on_entity_changed("gadget", lambda change: None, WorkQueue("gadget-cleanup", 3))

    on_entity_changed("gadget", lambda change: None, WorkQueue("gadget-audit"))


@pytest.mark.django_db
def test_unsubscribe_stops_calling_the_handler(
    isolated_registries, django_capture_on_commit_callbacks
):
    from checkstack.entities import on_entity_changed

    handle, store = memory_entity("gadget")
    received: list[Any] = []
    unsubscribe = on_entity_changed("gadget", received.append)

    with django_capture_on_commit_callbacks(execute=True):
        handle.mutate("g1", store.put("g1", {"status": "on"}))
    unsubscribe()
    with django_capture_on_commit_callbacks(execute=True):
        handle.mutate("g1", store.put("g1", {"status": "off"}))

    assert [c.seq for c in received] == [1]
    assert handle.history("g1").count() == 2


def test_unsubscribe_frees_the_work_queue_group(isolated_registries):
    from checkstack.entities import WorkQueue, on_entity_changed

    unsubscribe = on_entity_changed("gadget", lambda change: None, WorkQueue("gadget-cleanup"))
    unsubscribe()

    on_entity_changed("gadget", lambda change: None, WorkQueue("gadget-cleanup"))


def test_registry_needs_no_database(isolated_registries):
    """Registration runs in AppConfig.ready(): no django_db mark here, any query would fail."""
    from checkstack.entities import WorkQueue, on_entity_changed, register_change_deriver

    handle, _ = memory_entity("gadget")
    register_change_deriver("gadget", lambda change: [], emits=("gadget.changed",))
    on_entity_changed("gadget", lambda change: None, WorkQueue("gadget-cleanup"))

    assert registry.get_handle("gadget") is handle
