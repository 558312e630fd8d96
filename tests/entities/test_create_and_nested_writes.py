"""``handle.create`` (a new entity: no prev read) and an entity write nested in another one's
``apply`` (it joins the outer write's transaction without a savepoint of its own)."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from checkstack.entities import on_entity_changed
from checkstack.entities.handle import EntityHandle
from checkstack.entities.models import Delivery, TriggerEvent
from tests.testapp.entity import WidgetState, create_widget
from tests.testapp.models import Widget, WidgetTag

pytestmark = pytest.mark.django_db


def update_status(widget_id: str, status: str) -> Any:
    return lambda prev: Widget.objects.filter(id=widget_id).update(status=status)


def insert_widget(widget_id: str, **fields: Any) -> Any:
    def apply(prev: Any) -> None:
        assert prev is None
        Widget.objects.create(id=widget_id, **fields)

    return apply


def test_create_logs_a_change_with_null_prev_without_reading_prev(
    widgets: EntityHandle[WidgetState],
) -> None:
    with CaptureQueriesContext(connection) as captured:
        state = widgets.create("w1", insert_widget("w1", status="open", severity="minor"))

    assert state is not None and state.status == "open"
    [change] = widgets.history("w1")
    assert change.seq == 1
    assert change.prev is None
    assert change.next["status"] == "open"
    widget_reads = [q for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert len(widget_reads) == 2  # next: the widget and its tags (read_widgets); no prev


def test_create_of_an_existing_entity_fails_and_logs_nothing(
    widgets: EntityHandle[WidgetState],
) -> None:
    create_widget(widgets, "w1", status="open")

    with pytest.raises(IntegrityError), transaction.atomic():
        widgets.create("w1", insert_widget("w1", status="closed"))

    assert Widget.objects.get(id="w1").status == "open"
    assert [c.seq for c in widgets.history("w1")] == [1]


def test_create_after_a_tombstone_continues_the_seq(widgets: EntityHandle[WidgetState]) -> None:
    create_widget(widgets, "w1", status="open")
    widgets.remove("w1", lambda prev: Widget.objects.filter(id="w1").delete())

    widgets.create("w1", insert_widget("w1", status="acknowledged"))

    changes = list(widgets.history("w1"))
    assert [c.seq for c in changes] == [1, 2, 3]
    assert changes[1].next is None and changes[2].prev is None


def test_a_nested_write_takes_no_savepoint_of_its_own(widgets: EntityHandle[WidgetState]) -> None:
    create_widget(widgets, "outer", status="open")

    def apply(prev: Any) -> None:
        Widget.objects.filter(id="outer").update(status="acknowledged")
        widgets.create("inner", insert_widget("inner", status="open"))

    with CaptureQueriesContext(connection) as captured:
        widgets.mutate("outer", apply)

    savepoints = [q for q in captured.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert len(savepoints) == 1  # the outer write's (the test's transaction is outermost)
    assert [c.seq for c in widgets.history("outer")] == [1, 2]
    assert [c.seq for c in widgets.history("inner")] == [1]


def test_a_failing_nested_write_fails_the_outer_write_even_when_its_error_is_caught(
    widgets: EntityHandle[WidgetState],
) -> None:
    create_widget(widgets, "outer", status="open")
    create_widget(widgets, "inner", status="open")

    def apply(prev: Any) -> None:
        Widget.objects.filter(id="outer").update(status="acknowledged")
        WidgetTag.objects.create(widget_id="outer", tag="t1")
        # Without a savepoint the transaction cannot go on: the outer write fails.
        with contextlib.suppress(IntegrityError):
            widgets.create("inner", insert_widget("inner", status="closed"))

    with pytest.raises(transaction.TransactionManagementError):
        widgets.mutate("outer", apply)

    assert Widget.objects.get(id="outer").status == "open"
    assert not WidgetTag.objects.filter(widget_id="outer").exists()
    assert [c.seq for c in widgets.history("outer")] == [1]
    assert [c.seq for c in widgets.history("inner")] == [1]


def change_inserts(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if 'INTO "entities_change"' in q["sql"]]


def test_a_nested_writes_change_is_inserted_with_the_outer_writes_and_runs_first_after_commit(
    widgets: EntityHandle[WidgetState], django_capture_on_commit_callbacks: Any
) -> None:
    received: list[tuple[str, int]] = []
    on_entity_changed("widget", lambda c: received.append((c.entity_id, c.seq)))
    create_widget(widgets, "outer", status="open")

    def apply(prev: Any) -> None:
        widgets.create("inner", insert_widget("inner", status="open"))
        Widget.objects.filter(id="outer").update(status="acknowledged")

    with (
        CaptureQueriesContext(connection) as captured,
        django_capture_on_commit_callbacks(execute=True),
    ):
        widgets.mutate("outer", apply)

    # PostgreSQL: one statement for both changes (with their outbox rows); SQLite: one each.
    assert len(change_inserts(captured)) == (1 if connection.vendor == "postgresql" else 2)
    assert [(c.seq, c.prev is None) for c in widgets.history("inner")] == [(1, True)]
    [_, second] = widgets.history("outer")
    assert (second.seq, second.delta) == (2, {"status": "acknowledged"})
    assert Delivery.objects.count() == 0 and TriggerEvent.objects.count() == 3
    assert received == [("inner", 1), ("outer", 2)]


def test_a_nested_write_is_logged_when_the_outer_write_changes_nothing(
    widgets: EntityHandle[WidgetState],
) -> None:
    create_widget(widgets, "outer", status="open")

    widgets.mutate("outer", lambda prev: widgets.create("inner", insert_widget("inner")))
    widgets.mutate("outer", update_status("outer", "closed"))

    assert [c.seq for c in widgets.history("inner")] == [1]
    assert [c.seq for c in widgets.history("outer")] == [1, 2]  # the no-op took no seq


def test_two_nested_writes_of_one_entity_log_a_chained_gap_free_history(
    widgets: EntityHandle[WidgetState],
) -> None:
    create_widget(widgets, "outer", status="open")

    def apply(prev: Any) -> None:
        widgets.create("inner", insert_widget("inner", status="open"))
        widgets.mutate("inner", update_status("inner", "acknowledged"))
        widgets.mutate("inner", update_status("inner", "closed"))
        Widget.objects.filter(id="outer").update(status="closed")

    widgets.mutate("outer", apply)

    changes = list(widgets.history("inner"))
    assert [c.seq for c in changes] == [1, 2, 3]
    assert [c.next["status"] for c in changes] == ["open", "acknowledged", "closed"]
    for before, after in itertools.pairwise(changes):
        assert after.prev == before.next
    assert [c.seq for c in widgets.history("outer")] == [1, 2]


def test_writing_an_entity_inside_its_own_writes_apply_is_refused_and_writes_nothing(
    widgets: EntityHandle[WidgetState],
) -> None:
    create_widget(widgets, "w1", status="open")

    def apply(prev: Any) -> None:
        Widget.objects.filter(id="w1").update(status="acknowledged")
        widgets.mutate("w1", update_status("w1", "closed"))

    with pytest.raises(RuntimeError, match="widget:w1 is written inside its own write"):
        widgets.mutate("w1", apply)

    assert Widget.objects.get(id="w1").status == "open"
    assert [c.seq for c in widgets.history("w1")] == [1]
    widgets.mutate("w1", update_status("w1", "closed"))  # the lock and seq are intact
    assert [c.seq for c in widgets.history("w1")] == [1, 2]
