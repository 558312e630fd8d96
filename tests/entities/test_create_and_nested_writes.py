"""``handle.create`` (a new entity: no prev read) and an entity write nested in another one's
``apply`` (it joins the outer write's transaction without a savepoint of its own)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from checkstack.entities.handle import EntityHandle
from tests.testapp.entity import WidgetState, create_widget
from tests.testapp.models import Widget, WidgetTag

pytestmark = pytest.mark.django_db


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
