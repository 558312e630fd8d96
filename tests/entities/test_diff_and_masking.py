"""Diff rules (canonical JSON, ordered arrays, dropped fields) and secret masking of run writes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from checkstack.entities import forget_run, register_run_secret
from checkstack.entities.diff import canonical_json, changed_fields, delta_of
from checkstack.entities.masking import mask_value, secrets_for
from checkstack.entities.models import Transition, TriggerEvent
from tests.entities import memory_entity
from tests.testapp.entity import create_widget
from tests.testapp.models import Widget

SECRET = "s3cr3t-value"


def update_widget(widget_id: str, **fields: Any) -> Callable[[Any], None]:
    def apply(prev: Any) -> None:
        Widget.objects.filter(id=widget_id).update(**fields)

    return apply


@pytest.fixture
def run_id() -> Iterator[str]:
    run = f"run-{uuid.uuid4().hex}"
    try:
        yield run
    finally:
        forget_run(run)


# -- diff rules -------------------------------------------------------------------------------


def test_key_order_does_not_count():
    prev = {"a": 1, "b": {"x": 1, "y": [1, 2]}}
    next_ = {"b": {"y": [1, 2], "x": 1}, "a": 1}

    assert changed_fields(prev, next_) == []
    assert canonical_json(prev) == canonical_json(next_)


def test_none_and_absent_are_equal_at_every_depth():
    prev = {"a": 1, "gone": None, "b": {"x": 1, "y": None}, "c": [{"k": None, "v": 2}]}
    next_ = {"a": 1, "b": {"x": 1}, "c": [{"v": 2}]}

    assert changed_fields(prev, next_) == []
    assert canonical_json(prev) == canonical_json(next_)


def test_arrays_compare_in_order():
    assert changed_fields({"tags": ["a", "b"]}, {"tags": ["b", "a"]}) == ["tags"]
    assert changed_fields({"tags": ["a", "b"]}, {"tags": ["a", "b"]}) == []


def test_nested_value_change_marks_its_top_level_field():
    prev = {"a": 1, "labels": {"env": "prod", "team": "core"}}
    next_ = {"a": 1, "labels": {"env": "staging", "team": "core"}}

    assert changed_fields(prev, next_) == ["labels"]


def test_dropped_field_is_null_in_the_delta():
    prev = {"a": 1, "owner": "ann"}
    next_ = {"a": 1}

    fields = changed_fields(prev, next_)

    assert fields == ["owner"]
    assert delta_of(next_, fields) == {"owner": None}


def test_changed_fields_are_sorted_and_create_counts_only_set_fields():
    assert changed_fields(None, {"zeta": 1, "alpha": 2, "unset": None}) == ["alpha", "zeta"]
    assert changed_fields({"b": 1, "a": 1}, {"b": 2, "a": 2}) == ["a", "b"]


@pytest.mark.django_db
def test_mutate_ignores_none_versus_absent_in_nested_objects(isolated_registries):
    handle, store = memory_entity("gadget")
    handle.mutate("g1", store.put("g1", {"status": "on", "labels": {"env": {"tier": 1}}}))

    handle.mutate(
        "g1",
        store.put("g1", {"status": "on", "labels": {"env": {"tier": 1, "zone": None}, "x": None}}),
    )

    assert list(handle.history("g1").values_list("seq", flat=True)) == [1]


@pytest.mark.django_db
def test_mutate_logs_a_reordered_array_as_a_change(isolated_registries):
    handle, store = memory_entity("gadget")
    handle.mutate("g1", store.put("g1", {"status": "on", "order": ["a", "b"]}))

    handle.mutate("g1", store.put("g1", {"status": "on", "order": ["b", "a"]}))

    change = handle.history("g1").last()
    assert change.seq == 2
    assert change.changed_fields == ["order"]
    assert change.delta == {"order": ["b", "a"]}


@pytest.mark.django_db
def test_mutate_logs_a_dropped_field_as_null(isolated_registries):
    handle, store = memory_entity("gadget")
    handle.mutate("g1", store.put("g1", {"status": "on", "owner": "ann"}))

    handle.mutate("g1", store.put("g1", {"status": "on"}))

    change = handle.history("g1").last()
    assert change.changed_fields == ["owner"]
    assert change.delta == {"owner": None}
    transition = Transition.objects.get(change=change)
    assert (transition.field, transition.from_value, transition.to_value) == ("owner", "ann", None)


# -- masking ----------------------------------------------------------------------------------


def test_masking_reaches_nested_dicts_lists_and_object_keys(run_id):
    register_run_secret(run_id, SECRET)
    value = {
        "outer": [{f"{SECRET}-key": f"x {SECRET} y"}, SECRET, 7],
        "flag": True,
        "none": None,
        "deep": {"list": [[f"{SECRET}{SECRET}"]]},
    }

    assert mask_value(value, secrets_for(run_id)) == {
        "outer": [{"****-key": "x **** y"}, "****", 7],
        "flag": True,
        "none": None,
        "deep": {"list": [["********"]]},
    }


def test_values_shorter_than_four_characters_are_not_masked(run_id):
    register_run_secret(run_id, "abc")
    register_run_secret(run_id, "wxyz")

    assert mask_value("pin=abc key=wxyz", secrets_for(run_id)) == "pin=abc key=****"


def test_longest_secret_is_masked_first(run_id):
    register_run_secret(run_id, "abcd")
    register_run_secret(run_id, "abcdef")

    assert mask_value("xxabcdefyy", secrets_for(run_id)) == "xx****yy"


@pytest.mark.django_db
def test_run_write_masks_the_log_but_not_the_result_or_the_domain_rows(widgets, run_id):
    register_run_secret(run_id, SECRET)
    create_widget(widgets, "w1", tags=[f"tag-{SECRET}"], status="open", secret_note="plain")

    state = widgets.mutate(
        "w1", update_widget("w1", status="closed", secret_note=f"token={SECRET}"), run_id=run_id
    )

    assert state is not None
    assert state.note == f"token={SECRET}"
    assert state.tagIds == [f"tag-{SECRET}"]
    assert Widget.objects.get(id="w1").secret_note == f"token={SECRET}"
    change = widgets.history("w1").last()
    assert change.run_id == run_id
    assert change.prev["tagIds"] == ["tag-****"]
    assert change.next["note"] == "token=****"
    assert change.next["tagIds"] == ["tag-****"]
    assert change.delta == {"note": "token=****", "status": "closed"}
    note = Transition.objects.get(change=change, field="note")
    assert (note.from_value, note.to_value) == ("plain", "token=****")
    assert TriggerEvent.objects.get(change=change).payload["tagIds"] == ["tag-****"]
    assert SECRET not in str(list(TriggerEvent.objects.filter(change=change).values()))


@pytest.mark.django_db
def test_run_write_does_not_mask_secrets_shorter_than_four_characters(widgets, run_id):
    register_run_secret(run_id, "abc")
    create_widget(widgets, "w1", status="open")

    widgets.mutate("w1", update_widget("w1", secret_note="pin=abc"), run_id=run_id)

    assert widgets.history("w1").last().delta == {"note": "pin=abc"}


@pytest.mark.django_db
def test_run_write_masks_the_longest_secret_first(widgets, run_id):
    register_run_secret(run_id, "abcd")
    register_run_secret(run_id, "abcdef")
    create_widget(widgets, "w1", status="open")

    widgets.mutate("w1", update_widget("w1", secret_note="xxabcdefyy"), run_id=run_id)

    assert widgets.history("w1").last().delta == {"note": "xx****yy"}


@pytest.mark.django_db
def test_forget_run_stops_masking(widgets, run_id):
    register_run_secret(run_id, SECRET)
    forget_run(run_id)
    create_widget(widgets, "w1", status="open")

    widgets.mutate("w1", update_widget("w1", secret_note=f"token={SECRET}"), run_id=run_id)

    assert secrets_for(run_id) == []
    assert widgets.history("w1").last().delta == {"note": f"token={SECRET}"}


@pytest.mark.django_db
def test_masking_is_per_run_id(widgets, run_id):
    register_run_secret(run_id, SECRET)
    other_run = f"{run_id}-other"
    create_widget(widgets, "w1", status="open")

    widgets.mutate("w1", update_widget("w1", secret_note=f"token={SECRET}"), run_id=other_run)

    change = widgets.history("w1").last()
    assert change.run_id == other_run
    assert change.delta == {"note": f"token={SECRET}"}
