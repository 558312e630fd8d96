"""Automation definitions: save-time validation (automation.md) and the create/update/delete
services."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from pydantic import BaseModel, ConfigDict

from checkstack.automation import ActionResult, register_action
from checkstack.automation import services as automations
from checkstack.automation.models import Automation
from checkstack.errors import NotFound
from checkstack.validation import NUL_MESSAGE
from tests.automation.helpers import critical_incident_definition, note_step

pytestmark = pytest.mark.django_db


def refusal(**changes: Any) -> dict[str, list[str]]:
    """The field → messages of creating the example definition with ``changes``."""
    with pytest.raises(ValidationError) as info:
        automations.create_automation(**{**critical_incident_definition(), **changes})
    assert not Automation.objects.exists()
    return info.value.message_dict


def step_messages(*steps: dict[str, Any], event: str = "incident.created") -> list[str]:
    return refusal(trigger={"event": event}, steps=list(steps)).get("steps", [])


class CountConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str
    count: int
    tags: list[str] = []


@pytest.fixture
def count_action(isolated_registries: None) -> str:
    """A temporary action whose config has a required string and a required integer."""
    register_action(
        "test.count", "Count", "Counts.", "Tests", CountConfig, lambda ctx, c: ActionResult(True)
    )
    return "test.count"


# -- create, read, update, delete -------------------------------------------------------------


def test_create_stores_the_definition_with_default_concurrency() -> None:
    automation = automations.create_automation(**critical_incident_definition())

    stored = Automation.objects.get(pk=automation.pk)
    assert stored.name == "Critical incident note"
    assert stored.enabled is True
    assert stored.description == ""
    assert stored.trigger == {
        "event": "incident.created",
        "filter": "trigger.payload.severity == 'critical'",
    }
    assert stored.steps == [
        {
            "id": "note",
            "action": "incident.add_update",
            "config": {"message": "Paged on-call for {{ trigger.payload.title }}"},
            "continue_on_error": False,
        }
    ]
    assert stored.concurrency == {"scope": "automation", "mode": "parallel", "max_runs": 5}
    assert len(stored.pk) == 36  # a server-generated UUID


def test_create_fills_missing_concurrency_keys_with_the_defaults() -> None:
    automation = automations.create_automation(
        **critical_incident_definition(), concurrency={"scope": "context_key", "mode": "single"}
    )

    assert automation.concurrency == {"scope": "context_key", "mode": "single", "max_runs": 5}


def test_a_blank_or_missing_filter_is_stored_as_empty() -> None:
    automation = automations.create_automation(
        name="All incidents", trigger={"event": "incident.created"}, steps=[note_step()]
    )

    assert automation.trigger == {"event": "incident.created", "filter": ""}


def test_get_unknown_automation_raises_not_found() -> None:
    with pytest.raises(NotFound):
        automations.get_automation("nope")


def test_list_is_ordered_by_name_and_filters_by_enabled() -> None:
    definition = critical_incident_definition()
    beta = automations.create_automation(**{**definition, "name": "Beta"})
    alpha = automations.create_automation(**{**definition, "name": "Alpha", "enabled": False})

    assert list(automations.list_automations()) == [alpha, beta]
    assert list(automations.list_automations(enabled=True)) == [beta]


def test_update_changes_only_the_given_fields() -> None:
    automation = automations.create_automation(**critical_incident_definition())

    updated = automations.update_automation(automation.pk, enabled=False, name="Renamed")

    stored = Automation.objects.get(pk=automation.pk)
    assert (stored.name, stored.enabled) == ("Renamed", False)
    assert stored.steps == updated.steps == automation.steps
    assert stored.trigger == automation.trigger


def test_update_validates_the_resulting_definition_as_a_whole() -> None:
    automation = automations.create_automation(**critical_incident_definition())

    # The note step consumes an incident: a catalog trigger cannot supply one.
    with pytest.raises(ValidationError) as info:
        automations.update_automation(automation.pk, trigger={"event": "catalog.created"})

    assert info.value.message_dict["steps"] == [
        "Step 'note': action 'incident.add_update' consumes a 'incident' artifact, but no "
        "earlier step produces one and trigger 'catalog.created' cannot supply one."
    ]
    assert Automation.objects.get(pk=automation.pk).trigger["event"] == "incident.created"


def test_consumer_naming_its_target_by_id_needs_no_producer() -> None:
    definition = critical_incident_definition()
    definition["trigger"] = {"event": "catalog.created"}
    definition["steps"] = [note_step(incident_id="{{ trigger.payload.systemId }}-incident")]

    automation = automations.create_automation(**definition)

    assert automation.steps[0]["config"]["incident_id"].endswith("-incident")


def test_update_unknown_automation_raises_not_found() -> None:
    with pytest.raises(NotFound):
        automations.update_automation("nope", name="x")


def test_delete_removes_the_automation_and_a_second_delete_is_not_found() -> None:
    automation = automations.create_automation(**critical_incident_definition())

    automations.delete_automation(automation.pk)

    assert not Automation.objects.exists()
    with pytest.raises(NotFound):
        automations.delete_automation(automation.pk)


# -- plain fields -----------------------------------------------------------------------------


def test_blank_name_is_refused() -> None:
    assert refusal(name="  ") == {"name": ["This field may not be blank."]}


def test_name_longer_than_200_is_refused() -> None:
    assert refusal(name="x" * 201) == {
        "name": ["Ensure this field has no more than 200 characters."]
    }


def test_non_boolean_enabled_is_refused() -> None:
    assert refusal(enabled="yes") == {"enabled": ["Must be true or false."]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "bad\x00name"),
        ("description", "bad\x00"),
        ("trigger", {"event": "incident.created", "filter": "a\x00"}),
        ("steps", [note_step(message="a\x00b")]),
        ("concurrency", {"scope": "automation\x00"}),
    ],
)
def test_nul_characters_are_refused_naming_the_field(field: str, value: Any) -> None:
    assert refusal(**{field: value}) == {field: [NUL_MESSAGE]}


# -- trigger ----------------------------------------------------------------------------------


def test_unregistered_trigger_event_is_refused() -> None:
    errors = refusal(trigger={"event": "incident.exploded"})

    assert errors == {
        "trigger": ["trigger.event: 'incident.exploded' is not a registered trigger."]
    }


def test_missing_trigger_event_is_refused() -> None:
    errors = refusal(trigger={"filter": "true"})

    assert errors["trigger"] == ["trigger.event: required, the id of a registered trigger."]


def test_trigger_must_be_an_object_without_unknown_keys() -> None:
    assert "trigger" in refusal(trigger=["incident.created"])
    assert refusal(trigger={"event": "incident.created", "when": "now"}) == {
        "trigger": ["trigger.when: unknown key; use 'event' and 'filter'."]
    }


def test_filter_with_a_syntax_error_is_refused_naming_trigger_filter() -> None:
    errors = refusal(trigger={"event": "incident.created", "filter": "trigger.payload.severity =="})

    assert len(errors["trigger"]) == 1
    assert errors["trigger"][0].startswith("trigger.filter: not a valid Jinja2 expression:")


def test_filter_must_be_a_string() -> None:
    errors = refusal(trigger={"event": "incident.created", "filter": 3})

    assert errors == {
        "trigger": ["trigger.filter: must be a string (a Jinja2 expression) or null."]
    }


# -- steps ------------------------------------------------------------------------------------


def test_steps_must_be_a_non_empty_list() -> None:
    assert refusal(steps={"id": "note"}) == {"steps": ["Must be a JSON list of steps."]}
    assert refusal(steps=[]) == {"steps": ["Give at least one step."]}


@pytest.mark.parametrize("step_id", ["Note", "1note", "note-1", "note\n", "n" * 101, "", None])
def test_step_id_must_match_the_pattern(step_id: Any) -> None:
    messages = step_messages(note_step(step_id))

    assert messages == [
        f"Step 1: id {step_id!r} must match [a-z][a-z0-9_]* (at most 100 characters)."
    ]


def test_duplicate_step_ids_are_refused() -> None:
    messages = step_messages(note_step("note"), note_step("note"))

    assert messages == ["Step 'note': id is used by an earlier step."]


def test_unregistered_action_is_refused_naming_the_step() -> None:
    messages = step_messages({"id": "page", "action": "pager.page", "config": {}})

    assert messages == ["Step 'page': action 'pager.page' is not registered."]


def test_unknown_step_key_is_refused() -> None:
    messages = step_messages({**note_step(), "retries": 3})

    assert messages == [
        "Step 'note': unknown key 'retries'; use id, action, config, continue_on_error."
    ]


def test_non_boolean_continue_on_error_is_refused() -> None:
    messages = step_messages({**note_step(), "continue_on_error": "yes"})

    assert messages == ["Step 'note', field 'continue_on_error': must be true or false."]


def test_config_must_be_an_object() -> None:
    messages = step_messages({"id": "note", "action": "incident.add_update", "config": "hi"})

    # An empty config then misses the required message.
    assert messages == [
        "Step 'note', field 'config': must be a JSON object.",
        "Step 'note', config field 'message': Field required",
    ]


def test_missing_required_config_field_is_refused_naming_step_and_field() -> None:
    messages = step_messages({"id": "note", "action": "incident.add_update", "config": {}})

    assert messages == ["Step 'note', config field 'message': Field required"]


def test_unknown_config_field_is_refused() -> None:
    messages = step_messages(note_step(colour="red"))

    assert messages == ["Step 'note', config field 'colour': Extra inputs are not permitted"]


def test_config_value_of_the_wrong_type_is_refused(count_action: str) -> None:
    messages = step_messages(
        {"id": "count", "action": count_action, "config": {"label": "x", "count": "many"}}
    )

    assert messages == [
        "Step 'count', config field 'count': "
        "Input should be a valid integer, unable to parse string as an integer"
    ]


def test_nested_config_errors_name_the_path(count_action: str) -> None:
    messages = step_messages(
        {"id": "count", "action": count_action, "config": {"label": "x", "count": 1, "tags": [1]}}
    )

    assert messages == ["Step 'count', config field 'tags.0': Input should be a valid string"]


def test_template_satisfies_a_required_field_of_another_type(count_action: str) -> None:
    automation = automations.create_automation(
        name="Templated",
        trigger={"event": "incident.created"},
        steps=[
            {
                "id": "count",
                "action": count_action,
                "config": {"label": "x", "count": "{{ trigger.payload.systemIds | length }}"},
            }
        ],
    )

    assert automation.steps[0]["config"]["count"] == "{{ trigger.payload.systemIds | length }}"


def test_other_fields_are_still_validated_next_to_a_template(count_action: str) -> None:
    messages = step_messages(
        {"id": "count", "action": count_action, "config": {"count": "{% if true %}1{% endif %}"}}
    )

    assert messages == ["Step 'count', config field 'label': Field required"]


def test_template_nested_in_a_list_makes_the_field_template_valued(count_action: str) -> None:
    automation = automations.create_automation(
        name="Templated",
        trigger={"event": "incident.created"},
        steps=[
            {
                "id": "count",
                "action": count_action,
                "config": {"label": "x", "count": 1, "tags": [{"t": "{{ trigger.event }}"}]},
            }
        ],
    )

    assert automation.steps[0]["config"]["tags"] == [{"t": "{{ trigger.event }}"}]


def test_template_with_a_syntax_error_is_refused_naming_step_and_field() -> None:
    messages = step_messages(note_step(message="Hello {{ trigger.payload.title "))

    assert len(messages) == 1
    assert messages[0].startswith(
        "Step 'note', config field 'message': not a valid Jinja2 template:"
    )


def test_consumer_after_a_producer_needs_no_trigger_context() -> None:
    automation = automations.create_automation(
        name="Open and note",
        trigger={"event": "catalog.created"},
        steps=[
            {
                "id": "open",
                "action": "incident.create",
                "config": {"title": "New system", "system_ids": ["{{ trigger.payload.systemId }}"]},
            },
            note_step(),
        ],
    )

    assert [step["id"] for step in automation.steps] == ["open", "note"]


def test_consumer_before_its_producer_is_refused() -> None:
    create = {
        "id": "open",
        "action": "incident.create",
        "config": {"title": "New system", "system_ids": ["db"]},
    }

    messages = step_messages(note_step(), create, event="catalog.created")

    assert messages == [
        "Step 'note': action 'incident.add_update' consumes a 'incident' artifact, but no "
        "earlier step produces one and trigger 'catalog.created' cannot supply one."
    ]


def test_incident_triggers_supply_the_incident_artifact() -> None:
    automation = automations.create_automation(
        name="Resolved note",
        trigger={"event": "incident.resolved"},
        steps=[note_step()],
    )

    assert automation.trigger["event"] == "incident.resolved"


def test_every_bad_step_is_reported_at_once() -> None:
    messages = step_messages(
        {"id": "page", "action": "pager.page"},
        {"id": "note", "action": "incident.add_update", "config": {}},
    )

    assert messages == [
        "Step 'page': action 'pager.page' is not registered.",
        "Step 'note', config field 'message': Field required",
    ]


def test_a_step_that_is_not_an_object_is_refused_by_position() -> None:
    assert step_messages(note_step(), "page") == [
        "Step 2: must be a JSON object {id, action, config}."
    ]


# -- concurrency ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("concurrency", "message"),
    [
        ({"scope": "system"}, "concurrency.scope: must be one of automation, context_key."),
        ({"mode": "queue"}, "concurrency.mode: must be one of single, parallel, restart."),
        ({"max_runs": 0}, "concurrency.max_runs: must be an integer of at least 1."),
        ({"max_runs": "5"}, "concurrency.max_runs: must be an integer of at least 1."),
        ({"max_runs": True}, "concurrency.max_runs: must be an integer of at least 1."),
        ({"burst": 1}, "concurrency.burst: unknown key; use scope, mode, max_runs."),
        ([1], 'Must be a JSON object {"scope", "mode", "max_runs"}.'),
    ],
)
def test_bad_concurrency_is_refused(concurrency: Any, message: str) -> None:
    assert refusal(concurrency=concurrency) == {"concurrency": [message]}
