"""The write protocol of ``mutate``/``remove``: every row of the behaviour matrix in entities.md,
outer transactions, the prev/next chain, actors and request ids."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from pydantic import ValidationError

from checkstack.entities import (
    SYSTEM_ACTOR,
    EntityChange,
    define_entity,
    entity_changed,
    forget_run,
    on_entity_changed,
    register_run_secret,
)
from checkstack.entities.context import current_request_id
from checkstack.entities.handle import EntityHandle
from checkstack.entities.models import Change, Transition, TriggerEvent
from tests.entities import GadgetState, memory_entity
from tests.testapp.entity import WidgetState, create_widget
from tests.testapp.models import Widget, WidgetTag

pytestmark = pytest.mark.django_db

USER_ACTOR = {"type": "user", "id": "u-42", "name": "Ada"}


class Boom(Exception):
    pass


class Rollback(Exception):
    pass


def update_widget(widget_id: str, **fields: Any) -> Callable[[Any], None]:
    def apply(prev: Any) -> None:
        Widget.objects.filter(id=widget_id).update(**fields)

    return apply


def delete_widget(widget_id: str) -> Callable[[Any], None]:
    def apply(prev: Any) -> None:
        Widget.objects.filter(id=widget_id).delete()

    return apply


def seqs(handle: EntityHandle[Any], widget_id: str) -> list[int]:
    return list(handle.history(widget_id).values_list("seq", flat=True))


@pytest.fixture
def signal_log() -> Iterator[list[EntityChange]]:
    """Changes received through the ``entity_changed`` signal."""
    received: list[EntityChange] = []

    def receiver(sender: str, change: EntityChange, **kwargs: Any) -> None:
        received.append(change)

    entity_changed.connect(receiver, weak=False, dispatch_uid="test_write_protocol")
    try:
        yield received
    finally:
        entity_changed.disconnect(dispatch_uid="test_write_protocol")


@pytest.fixture
def broadcast_log(widgets: EntityHandle[WidgetState]) -> list[EntityChange]:
    """Changes of ``widget`` received by a Broadcast subscriber."""
    received: list[EntityChange] = []
    on_entity_changed("widget", received.append)
    return received


@pytest.fixture
def run_id() -> Iterator[str]:
    run = "run-write-protocol"
    try:
        yield run
    finally:
        forget_run(run)


# -- real change ------------------------------------------------------------------------------


def test_real_change_logs_one_change_with_one_transition_per_changed_field(widgets):
    create_widget(widgets, "w1", tags=["a"], status="open", severity="major")

    widgets.mutate("w1", update_widget("w1", status="acknowledged", severity="minor"))

    changes = list(widgets.history("w1"))
    assert len(changes) == 2
    change = changes[1]
    assert change.seq == 2
    assert change.changed_fields == ["severity", "status"]
    assert change.delta == {"severity": "minor", "status": "acknowledged"}
    assert change.prev == {"status": "open", "severity": "major", "tagIds": ["a"], "note": None}
    assert change.next == {
        "status": "acknowledged",
        "severity": "minor",
        "tagIds": ["a"],
        "note": None,
    }
    transitions = {
        t.field: (t.from_value, t.to_value) for t in Transition.objects.filter(change=change)
    }
    assert transitions == {"severity": ("major", "minor"), "status": ("open", "acknowledged")}


def test_real_change_writes_its_derived_trigger_events(widgets):
    create_widget(widgets, "w1", tags=["a"], status="open")

    widgets.mutate("w1", update_widget("w1", status="closed"))

    change = widgets.history("w1").last()
    events = list(TriggerEvent.objects.filter(change=change))
    assert [e.event for e in events] == ["widget.closed"]
    assert events[0].payload == {
        "widgetId": "w1",
        "status": "closed",
        "severity": "major",
        "tagIds": ["a"],
        "statusChange": "closed",
    }


def test_real_change_notifies_signal_and_broadcast_only_after_commit(
    widgets, signal_log, broadcast_log, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        create_widget(widgets, "w1", status="open")
        widgets.mutate("w1", update_widget("w1", status="acknowledged"))
        assert signal_log == []
        assert broadcast_log == []

    rows = list(widgets.history("w1"))
    for received in (signal_log, broadcast_log):
        assert [c.change_id for c in received] == [r.change_id for r in rows]
        assert received[1].delta == {"status": "acknowledged"}
        assert received[1].prev == rows[1].prev
        assert received[1].next == rows[1].next


# -- equal state ------------------------------------------------------------------------------


def test_equal_state_logs_no_change_no_transition_and_no_trigger_event(
    widgets, signal_log, broadcast_log, django_capture_on_commit_callbacks
):
    create_widget(widgets, "w1", tags=["a", "b"], status="open", severity="major")

    def rewrite_same_state(prev: Any) -> None:
        # Same values, tags re-inserted in another order and an empty note (read as None).
        Widget.objects.filter(id="w1").update(status="open", severity="major", secret_note="")
        WidgetTag.objects.filter(widget_id="w1").delete()
        WidgetTag.objects.bulk_create(
            [WidgetTag(widget_id="w1", tag="b"), WidgetTag(widget_id="w1", tag="a")]
        )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        state = widgets.mutate("w1", rewrite_same_state)

    assert state == WidgetState(status="open", severity="major", tagIds=["a", "b"])
    assert callbacks == []
    assert signal_log == broadcast_log == []
    assert seqs(widgets, "w1") == [1]
    assert Transition.objects.filter(entity_id="w1", change__seq__gt=1).count() == 0
    assert TriggerEvent.objects.filter(change__entity_id="w1").count() == 1  # widget.created


def test_equal_state_ignores_key_order_and_none_versus_absent(isolated_registries):
    handle, store = memory_entity("labelled")
    handle.mutate("l1", store.put("l1", {"status": "open", "labels": {"a": 1, "b": {"x": 1}}}))

    state = handle.mutate(
        "l1",
        store.put(
            "l1",
            {"labels": {"b": {"z": None, "x": 1}, "gone": None, "a": 1}, "status": "open"},
        ),
    )

    assert state is not None
    assert state.labels == {"b": {"z": None, "x": 1}, "gone": None, "a": 1}
    assert seqs(handle, "l1") == [1]


def test_equal_state_does_not_consume_a_seq(widgets):
    create_widget(widgets, "w1", status="open")
    widgets.mutate("w1", update_widget("w1", status="open"))
    widgets.mutate("w1", update_widget("w1", status="open"))

    widgets.mutate("w1", update_widget("w1", status="closed"))

    assert seqs(widgets, "w1") == [1, 2]


# -- create -----------------------------------------------------------------------------------


def test_create_logs_null_prev_and_only_non_null_fields(
    widgets, broadcast_log, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        state = create_widget(widgets, "w1", tags=["t"], status="open", severity="minor")

    assert state == WidgetState(status="open", severity="minor", tagIds=["t"], note=None)
    (change,) = widgets.history("w1")
    assert change.seq == 1
    assert change.prev is None
    assert change.changed_fields == ["severity", "status", "tagIds"]
    assert change.delta == {"severity": "minor", "status": "open", "tagIds": ["t"]}
    transitions = {
        t.field: (t.from_value, t.to_value) for t in Transition.objects.filter(change=change)
    }
    assert transitions == {
        "severity": (None, "minor"),
        "status": (None, "open"),
        "tagIds": (None, ["t"]),
    }
    assert list(TriggerEvent.objects.filter(change=change).values_list("event", flat=True)) == [
        "widget.created"
    ]
    assert [c.change_id for c in broadcast_log] == [change.change_id]


# -- failures ---------------------------------------------------------------------------------


def test_read_raising_never_runs_apply_and_writes_nothing(isolated_registries):
    def read(ids: list[str]) -> dict[str, Any]:
        raise Boom("read failed")

    handle = define_entity(kind="unreadable", state=GadgetState, read=read)
    applied: list[Any] = []

    with pytest.raises(Boom):
        handle.mutate("u1", applied.append)

    assert applied == []
    assert not Change.objects.filter(kind="unreadable").exists()
    assert not Transition.objects.filter(kind="unreadable").exists()


def test_read_raising_leaves_the_seq_unconsumed(isolated_registries):
    rows: dict[str, dict[str, Any]] = {}
    failing = {"on": True}

    def read(ids: list[str]) -> dict[str, Any]:
        if failing["on"]:
            raise Boom("read failed")
        return {i: rows[i] for i in ids if i in rows}

    handle = define_entity(kind="flaky", state=GadgetState, read=read)
    with pytest.raises(Boom):
        handle.mutate("f1", lambda prev: rows.update(f1={"status": "open"}))

    failing["on"] = False
    handle.mutate("f1", lambda prev: rows.update(f1={"status": "open"}))

    assert seqs(handle, "f1") == [1]


def test_apply_raising_rolls_back_logs_nothing_and_reraises_the_same_exception(
    widgets, broadcast_log, django_capture_on_commit_callbacks
):
    create_widget(widgets, "w1", status="open")
    boom = Boom("apply failed")

    def apply(prev: Any) -> None:
        Widget.objects.filter(id="w1").update(status="closed")
        WidgetTag.objects.create(widget_id="w1", tag="half-written")
        raise boom

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Boom) as exc:
        widgets.mutate("w1", apply)

    assert exc.value is boom
    assert callbacks == []
    assert broadcast_log == []
    assert Widget.objects.get(id="w1").status == "open"
    assert not WidgetTag.objects.filter(widget_id="w1").exists()
    assert seqs(widgets, "w1") == [1]
    assert TriggerEvent.objects.filter(change__entity_id="w1").count() == 1


def test_invalid_next_rolls_back_and_raises_validation_error(
    widgets, broadcast_log, django_capture_on_commit_callbacks
):
    create_widget(widgets, "w1", status="open")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ValidationError),
    ):
        widgets.mutate("w1", update_widget("w1", status="bogus", severity="minor"))

    assert callbacks == []
    assert broadcast_log == []
    widget = Widget.objects.get(id="w1")
    assert (widget.status, widget.severity) == ("open", "major")
    assert seqs(widgets, "w1") == [1]
    widgets.mutate("w1", update_widget("w1", status="closed"))
    assert seqs(widgets, "w1") == [1, 2]


def fail_statements_touching(table: str) -> Callable[..., Any]:
    """An execute wrapper making the database refuse every write statement naming ``table``."""

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if table in sql and sql.lstrip().upper().startswith(("INSERT", "WITH")):
            raise DatabaseError(f"simulated failure writing {table}")
        return execute(sql, params, many, context)

    return wrapper


@pytest.mark.parametrize(
    "table", ["entities_change", "entities_transition", "entities_triggerevent"]
)
def test_failing_log_or_outbox_insert_rolls_back_the_domain_write(
    widgets, broadcast_log, django_capture_on_commit_callbacks, table
):
    create_widget(widgets, "w1", status="open")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        connection.execute_wrapper(fail_statements_touching(table)),
        pytest.raises(DatabaseError, match="simulated failure"),
    ):
        widgets.mutate("w1", update_widget("w1", status="closed"))

    assert callbacks == []
    assert broadcast_log == []
    assert Widget.objects.get(id="w1").status == "open"
    assert seqs(widgets, "w1") == [1]
    assert TriggerEvent.objects.filter(change__entity_id="w1").count() == 1
    assert not Transition.objects.filter(entity_id="w1", to_value="closed").exists()
    # The seq the failed write reserved was rolled back with it.
    widgets.mutate("w1", update_widget("w1", status="closed"))
    assert seqs(widgets, "w1") == [1, 2]


# -- remove -----------------------------------------------------------------------------------


def test_removing_an_absent_entity_runs_apply_and_logs_nothing(
    widgets, broadcast_log, django_capture_on_commit_callbacks
):
    applied: list[Any] = []

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = widgets.remove("ghost", applied.append)

    assert result is None
    assert applied == [None]
    assert callbacks == []
    assert broadcast_log == []
    assert not widgets.history("ghost").exists()
    create_widget(widgets, "ghost", status="open")
    assert seqs(widgets, "ghost") == [1]


def test_removing_a_present_entity_logs_one_tombstone_without_transitions(
    widgets, broadcast_log, django_capture_on_commit_callbacks
):
    create_widget(widgets, "w1", tags=["a"], status="open")

    with django_capture_on_commit_callbacks(execute=True):
        widgets.remove("w1", delete_widget("w1"))
        assert broadcast_log == []

    assert not Widget.objects.filter(id="w1").exists()
    assert widgets.get("w1") is None
    changes = list(widgets.history("w1"))
    assert len(changes) == 2
    tombstone = changes[1]
    assert tombstone.seq == 2
    assert tombstone.prev == changes[0].next
    assert tombstone.next is None
    assert tombstone.delta == {}
    assert tombstone.changed_fields == []
    assert not Transition.objects.filter(change=tombstone).exists()
    assert [c.change_id for c in broadcast_log] == [tombstone.change_id]
    assert broadcast_log[0].next is None


def test_recreating_after_a_tombstone_continues_the_seq(widgets):
    create_widget(widgets, "w1", status="open")
    widgets.remove("w1", delete_widget("w1"))

    create_widget(widgets, "w1", status="acknowledged")

    changes = list(widgets.history("w1"))
    assert [c.seq for c in changes] == [1, 2, 3]
    assert changes[2].prev is None
    assert changes[2].next["status"] == "acknowledged"


# -- masking ----------------------------------------------------------------------------------


def test_run_changing_only_a_secret_value_logs_nothing(
    widgets, run_id, broadcast_log, django_capture_on_commit_callbacks
):
    create_widget(widgets, "w1", status="open", secret_note="token=first-secret")
    register_run_secret(run_id, "first-secret")
    register_run_secret(run_id, "second-secret")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        state = widgets.mutate(
            "w1", update_widget("w1", secret_note="token=second-secret"), run_id=run_id
        )

    assert state is not None
    assert state.note == "token=second-secret"
    assert Widget.objects.get(id="w1").secret_note == "token=second-secret"
    assert callbacks == []
    assert broadcast_log == []
    assert seqs(widgets, "w1") == [1]


def test_the_same_secret_change_without_a_run_id_is_logged(widgets, run_id):
    create_widget(widgets, "w1", status="open", secret_note="token=first-secret")
    register_run_secret(run_id, "first-secret")
    register_run_secret(run_id, "second-secret")

    widgets.mutate("w1", update_widget("w1", secret_note="token=second-secret"))

    assert widgets.history("w1").last().delta == {"note": "token=second-secret"}


# -- outer transactions -----------------------------------------------------------------------


def test_mutate_joins_an_outer_atomic_block_and_its_rollback_leaves_nothing(
    widgets, broadcast_log, signal_log, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Rollback),
        transaction.atomic(),
    ):
        create_widget(widgets, "w1", status="open")
        widgets.mutate("w1", update_widget("w1", status="closed"))
        assert seqs(widgets, "w1") == [1, 2]
        raise Rollback

    assert callbacks == []
    assert broadcast_log == signal_log == []
    assert not Widget.objects.filter(id="w1").exists()
    assert not widgets.history("w1").exists()
    assert not TriggerEvent.objects.filter(change__entity_id="w1").exists()
    create_widget(widgets, "w1", status="open")
    assert seqs(widgets, "w1") == [1]


def test_remove_joins_an_outer_atomic_block_and_its_rollback_leaves_nothing(
    widgets, broadcast_log, django_capture_on_commit_callbacks
):
    create_widget(widgets, "w1", status="open")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Rollback),
        transaction.atomic(),
    ):
        widgets.remove("w1", delete_widget("w1"))
        raise Rollback

    assert callbacks == []
    assert broadcast_log == []
    assert Widget.objects.filter(id="w1").exists()
    assert seqs(widgets, "w1") == [1]
    events = TriggerEvent.objects.filter(change__entity_id="w1")
    assert list(events.values_list("event", flat=True)) == ["widget.created"]


@pytest.mark.django_db(transaction=True)
def test_subscribers_run_only_after_the_outermost_commit(widgets, broadcast_log, signal_log):
    with transaction.atomic():
        create_widget(widgets, "w1", status="open")
        with transaction.atomic():
            widgets.mutate("w1", update_widget("w1", status="acknowledged"))
        assert broadcast_log == []
        widgets.remove("w1", delete_widget("w1"))
        assert broadcast_log == signal_log == []

    assert [c.seq for c in broadcast_log] == [1, 2, 3]
    assert [c.seq for c in signal_log] == [1, 2, 3]


# -- invariant --------------------------------------------------------------------------------


def test_prev_of_each_change_is_next_of_the_one_before_and_seq_is_gap_free(widgets):
    create_widget(widgets, "w1", tags=["a"], status="open")
    widgets.mutate("w1", update_widget("w1", status="acknowledged"))
    widgets.mutate("w1", update_widget("w1", status="acknowledged"))  # no-op
    widgets.mutate("w1", update_widget("w1", severity="critical", secret_note="n"))
    widgets.remove("w1", delete_widget("w1"))
    widgets.remove("w1", delete_widget("w1"))  # absent: no-op
    create_widget(widgets, "w1", status="closed")
    widgets.mutate("w1", update_widget("w1", status="open"))

    changes = list(widgets.history("w1"))
    assert [c.seq for c in changes] == list(range(1, 7))
    assert changes[0].prev is None
    for before, after in itertools.pairwise(changes):
        assert after.prev == before.next
    assert [c.next is None for c in changes] == [False, False, False, True, False, False]


# -- actor and request id ---------------------------------------------------------------------


def test_default_actor_is_the_system_actor(widgets):
    create_widget(widgets, "w1", status="open")

    change = widgets.history("w1").get()
    assert change.actor == SYSTEM_ACTOR
    assert TriggerEvent.objects.get(change=change).actor == SYSTEM_ACTOR


def test_user_actor_is_stored_on_the_change_and_its_trigger_events(
    widgets, broadcast_log, django_capture_on_commit_callbacks
):
    create_widget(widgets, "w1", status="open")

    with django_capture_on_commit_callbacks(execute=True):
        widgets.mutate("w1", update_widget("w1", status="closed"), actor=USER_ACTOR)

    change = widgets.history("w1").last()
    assert change.actor == USER_ACTOR
    assert TriggerEvent.objects.get(change=change).actor == USER_ACTOR
    assert broadcast_log[-1].actor == USER_ACTOR


def test_invalid_actor_raises_before_anything_is_written(widgets):
    create_widget(widgets, "w1", status="open")
    applied: list[Any] = []

    def apply(prev: Any) -> None:
        applied.append(prev)
        Widget.objects.filter(id="w1").update(status="closed")

    with pytest.raises(ValidationError):
        widgets.mutate("w1", apply, actor={"type": "robot", "id": "r2d2", "name": "R2"})

    assert applied == []
    assert Widget.objects.get(id="w1").status == "open"
    assert seqs(widgets, "w1") == [1]


def test_request_id_is_recorded_when_set(
    widgets, broadcast_log, django_capture_on_commit_callbacks
):
    token = current_request_id.set("req-7f3a")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            create_widget(widgets, "w1", status="open")
    finally:
        current_request_id.reset(token)
    widgets.mutate("w1", update_widget("w1", status="closed"))

    first, second = widgets.history("w1")
    assert first.request_id == "req-7f3a"
    assert broadcast_log[0].request_id == "req-7f3a"
    assert second.request_id is None
