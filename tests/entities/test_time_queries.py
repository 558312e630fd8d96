"""Time queries over field transitions: ``in_state_since``, ``in_state_for``, ``transition_count``.

Changes are backdated to fixed past times so windows and durations do not depend on the clock
of the test run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from checkstack.entities.handle import EntityHandle
from checkstack.entities.models import Change, Transition
from tests.testapp.entity import create_widget
from tests.testapp.models import Widget

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


def update_widget(widget_id: str, **fields: Any) -> Callable[[Any], None]:
    def apply(prev: Any) -> None:
        Widget.objects.filter(id=widget_id).update(**fields)

    return apply


def delete_widget(widget_id: str) -> Callable[[Any], None]:
    def apply(prev: Any) -> None:
        Widget.objects.filter(id=widget_id).delete()

    return apply


def backdate_last_change(handle: EntityHandle[Any], entity_id: str, when: dt.datetime) -> None:
    """Move the entity's latest change and its transitions to ``when``."""
    change = handle.history(entity_id).last()
    assert change is not None
    Change.objects.filter(pk=change.pk).update(occurred_at=when)
    Transition.objects.filter(change=change).update(occurred_at=when)


def test_in_state_since_is_the_time_of_the_latest_transition_of_that_field(widgets):
    now = timezone.now()
    create_widget(widgets, "w1", status="open", severity="major")
    backdate_last_change(widgets, "w1", now - 3 * HOUR)
    widgets.mutate("w1", update_widget("w1", status="acknowledged"))
    backdate_last_change(widgets, "w1", now - HOUR)
    widgets.mutate("w1", update_widget("w1", severity="critical"))
    backdate_last_change(widgets, "w1", now - 10 * MINUTE)

    assert widgets.in_state_since("w1", "status") == now - HOUR
    assert widgets.in_state_since("w1", "severity") == now - 10 * MINUTE
    assert widgets.in_state_since("w1", "tagIds") == now - 3 * HOUR


def test_in_state_since_is_none_for_an_unknown_entity_or_field(widgets):
    create_widget(widgets, "w1", status="open")

    assert widgets.in_state_since("nobody", "status") is None
    assert widgets.in_state_since("w1", "colour") is None
    assert widgets.in_state_since("w1", "note") is None  # never set


def test_in_state_since_is_none_after_a_tombstone(widgets):
    create_widget(widgets, "w1", status="open")
    widgets.remove("w1", delete_widget("w1"))

    assert widgets.in_state_since("w1", "status") is None


def test_in_state_since_counts_from_the_re_creation_after_a_tombstone(widgets):
    now = timezone.now()
    create_widget(widgets, "w1", status="open")
    backdate_last_change(widgets, "w1", now - 3 * HOUR)
    widgets.remove("w1", delete_widget("w1"))
    backdate_last_change(widgets, "w1", now - 2 * HOUR)
    create_widget(widgets, "w1", status="open")
    backdate_last_change(widgets, "w1", now - HOUR)

    assert widgets.in_state_since("w1", "status") == now - HOUR


def test_in_state_since_ignores_a_field_set_only_before_the_last_tombstone(widgets):
    create_widget(widgets, "w1", status="open", secret_note="first life")
    widgets.remove("w1", delete_widget("w1"))
    create_widget(widgets, "w1", status="open")

    assert widgets.in_state_since("w1", "note") is None
    assert widgets.in_state_since("w1", "status") is not None


def test_in_state_for_is_zero_when_unknown(widgets):
    create_widget(widgets, "w1", status="open")
    create_widget(widgets, "w2", status="open")
    backdate_last_change(widgets, "w2", timezone.now() - HOUR)
    widgets.remove("w2", delete_widget("w2"))

    assert widgets.in_state_for("nobody", "status") == dt.timedelta(0)
    assert widgets.in_state_for("w1", "colour") == dt.timedelta(0)
    assert widgets.in_state_for("w2", "status") == dt.timedelta(0)


def test_in_state_for_is_the_time_since_the_field_last_changed(widgets):
    now = timezone.now()
    create_widget(widgets, "w1", status="open", severity="major")
    backdate_last_change(widgets, "w1", now - HOUR)
    widgets.mutate("w1", update_widget("w1", severity="minor"))
    backdate_last_change(widgets, "w1", now - 10 * MINUTE)

    status_for = widgets.in_state_for("w1", "status")
    severity_for = widgets.in_state_for("w1", "severity")

    assert status_for > dt.timedelta(0)
    assert HOUR <= status_for < 2 * HOUR
    assert 10 * MINUTE <= severity_for < HOUR


def test_transition_count_counts_only_transitions_of_the_field_inside_the_window(widgets):
    now = timezone.now()
    create_widget(widgets, "w1", status="open", severity="major")
    backdate_last_change(widgets, "w1", now - 24 * HOUR)
    for status, age in (("acknowledged", 2 * HOUR), ("open", 30 * MINUTE), ("closed", 5 * MINUTE)):
        widgets.mutate("w1", update_widget("w1", status=status))
        backdate_last_change(widgets, "w1", now - age)
    widgets.mutate("w1", update_widget("w1", severity="critical"))  # another field, now
    create_widget(widgets, "w2", status="open")  # another entity, now
    widgets.mutate("w2", update_widget("w2", status="closed"))

    assert widgets.transition_count("w1", "status", 10 * MINUTE) == 1
    assert widgets.transition_count("w1", "status", HOUR) == 2
    assert widgets.transition_count("w1", "status", 3 * HOUR) == 3
    assert widgets.transition_count("w1", "status", 48 * HOUR) == 4
    assert widgets.transition_count("w1", "severity", 3 * HOUR) == 1
    assert widgets.transition_count("w1", "severity", 48 * HOUR) == 2


def test_transition_count_is_zero_for_an_unknown_entity_or_field(widgets):
    create_widget(widgets, "w1", status="open")

    assert widgets.transition_count("nobody", "status", HOUR) == 0
    assert widgets.transition_count("w1", "colour", HOUR) == 0
