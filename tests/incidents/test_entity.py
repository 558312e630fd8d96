"""The ``incident`` entity: batched read, deriver table, payload mapper, registrations."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from checkstack.automation import get_action, get_artifact_type, get_trigger
from checkstack.entities import EntityChange
from checkstack.entities.diff import changed_fields, delta_of
from checkstack.entities.registry import find_handle
from incidents import services
from incidents.entity import derive_incident_events, incident_payload, read_incidents
from tests.incidents.helpers import changes, events, make_incident

STATE = {"status": "investigating", "severity": "major", "systemIds": ["api", "db"]}


def change_of(prev: dict[str, Any] | None, next_: dict[str, Any] | None) -> EntityChange:
    fields = changed_fields(prev, next_)
    return EntityChange(
        change_id=uuid.uuid4(),
        kind="incident",
        entity_id="inc-1",
        seq=1 if prev is None else 2,
        prev=prev,
        next=next_,
        delta=delta_of(next_, fields),
        changed_fields=fields,
        actor={"type": "system", "id": "system", "name": "System"},
        run_id=None,
        occurred_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )


# -- deriver table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prev", "next_", "expected"),
    [
        pytest.param(None, STATE, ["incident.created"], id="create"),
        pytest.param(
            None, {**STATE, "status": "resolved"}, ["incident.created"], id="create-resolved"
        ),
        pytest.param(STATE, None, [], id="tombstone"),
        pytest.param({**STATE, "status": "resolved"}, None, [], id="tombstone-of-resolved"),
        pytest.param(STATE, {**STATE, "status": "resolved"}, ["incident.resolved"], id="resolve"),
        pytest.param(
            {**STATE, "status": "monitoring"},
            {**STATE, "status": "resolved", "severity": "critical"},
            ["incident.resolved"],
            id="resolve-with-severity",
        ),
        pytest.param(
            {**STATE, "status": "resolved"},
            {**STATE, "status": "resolved", "systemIds": ["db"]},
            ["incident.updated"],
            id="resolved-stays-resolved",
        ),
        pytest.param(
            {**STATE, "status": "resolved"},
            {**STATE, "status": "investigating"},
            ["incident.updated"],
            id="reopen",
        ),
        pytest.param(STATE, {**STATE, "status": "fixing"}, ["incident.updated"], id="open-status"),
        pytest.param(STATE, {**STATE, "severity": "critical"}, ["incident.updated"], id="severity"),
        pytest.param(STATE, {**STATE, "systemIds": ["db"]}, ["incident.updated"], id="systems"),
    ],
)
def test_deriver_table(
    prev: dict[str, Any] | None, next_: dict[str, Any] | None, expected: list[str]
) -> None:
    assert derive_incident_events(change_of(prev, next_)) == expected


# -- payload mapper -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_payload_of_a_create_carries_status_change_investigating() -> None:
    assert incident_payload(change_of(None, STATE)) == {
        "incidentId": "inc-1",
        "systemIds": ["api", "db"],
        "severity": "major",
        "status": "investigating",
        "statusChange": "investigating",
    }


@pytest.mark.django_db
def test_payload_has_status_change_only_when_status_changed() -> None:
    payload = incident_payload(change_of(STATE, {**STATE, "severity": "minor"}))
    assert payload == {
        "incidentId": "inc-1",
        "systemIds": ["api", "db"],
        "severity": "minor",
        "status": "investigating",
    }
    moved = incident_payload(change_of(STATE, {**STATE, "status": "fixing", "systemIds": []}))
    assert (moved["statusChange"], moved["systemIds"]) == ("fixing", [])


@pytest.mark.django_db
def test_trigger_payloads_of_real_writes(systems: list[str]) -> None:
    incident = make_incident(["db", "api"], severity="minor")
    services.update_incident(incident.pk, severity="critical")
    services.add_update(incident.pk, message="Cause", status_change="identified")
    services.update_incident(incident.pk, system_ids=["web"])
    services.resolve_incident(incident.pk)

    base = {"incidentId": incident.pk}
    assert events(incident.pk) == [
        (
            "incident.created",
            {
                **base,
                "systemIds": ["api", "db"],
                "severity": "minor",
                "status": "investigating",
                "statusChange": "investigating",
            },
        ),
        (
            "incident.updated",
            {**base, "systemIds": ["api", "db"], "severity": "critical", "status": "investigating"},
        ),
        (
            "incident.updated",
            {
                **base,
                "systemIds": ["api", "db"],
                "severity": "critical",
                "status": "identified",
                "statusChange": "identified",
            },
        ),
        (
            "incident.updated",
            {**base, "systemIds": ["web"], "severity": "critical", "status": "identified"},
        ),
        (
            "incident.resolved",
            {
                **base,
                "systemIds": ["web"],
                "severity": "critical",
                "status": "resolved",
                "statusChange": "resolved",
            },
        ),
    ]
    assert [c.changed_fields for c in changes(incident.pk)] == [
        ["severity", "status", "systemIds"],
        ["severity"],
        ["status"],
        ["systemIds"],
        ["status"],
    ]


@pytest.mark.django_db
def test_payloads_carry_title_description_and_timestamps_for_filters(
    systems: list[str],
) -> None:
    incident = services.create_incident(
        title="DB down", description="Replica lag", severity="major", system_ids=["db"]
    )
    services.resolve_incident(incident.pk)
    incident.refresh_from_db()
    created, resolved = (payload for _, payload in events(incident.pk, descriptive=True))
    assert (created["title"], created["description"]) == ("DB down", "Replica lag")
    assert created["createdAt"] == incident.created_at.isoformat()
    assert created["resolvedAt"] is None
    assert resolved["resolvedAt"] == incident.resolved_at.isoformat()


@pytest.mark.django_db
def test_trigger_events_have_the_incident_id_as_context_key(systems: list[str]) -> None:
    from checkstack.entities.models import TriggerEvent

    incident = make_incident(["db"])
    services.resolve_incident(incident.pk)
    keys = TriggerEvent.objects.filter(change__kind="incident").values_list(
        "context_key", flat=True
    )
    assert sorted(keys) == [incident.pk, incident.pk]


# -- read ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_read_makes_no_query_for_no_ids(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        assert read_incidents([]) == {}


@pytest.mark.django_db
def test_read_is_batched_in_one_query(systems: list[str], django_assert_num_queries: Any) -> None:
    first = make_incident(["web", "db"])
    second = make_incident(["api"], severity="critical")
    bare = make_incident(["db"])
    services.update_incident(bare.pk, system_ids=["api"])

    with django_assert_num_queries(1):
        states = read_incidents([first.pk, second.pk, bare.pk, "missing"])

    assert states == {
        first.pk: {"status": "investigating", "severity": "major", "systemIds": ["db", "web"]},
        second.pk: {"status": "investigating", "severity": "critical", "systemIds": ["api"]},
        bare.pk: {"status": "investigating", "severity": "major", "systemIds": ["api"]},
    }


@pytest.mark.django_db
def test_entity_states_of_many_incidents(systems: list[str]) -> None:
    incident = make_incident(["db"])
    services.resolve_incident(incident.pk)
    states = services.get_many_entity_states([incident.pk, "missing"])
    assert list(states) == [incident.pk]
    assert states[incident.pk].model_dump(mode="json") == {
        "status": "resolved",
        "severity": "major",
        "systemIds": ["db"],
    }


# -- registrations ------------------------------------------------------------------------------


def test_the_incident_kind_is_defined() -> None:
    assert find_handle("incident") is not None


@pytest.mark.parametrize(
    "trigger_id", ["incident.created", "incident.updated", "incident.resolved"]
)
def test_incident_triggers_are_registered_with_incident_id_context(trigger_id: str) -> None:
    trigger = get_trigger(trigger_id)
    assert trigger is not None
    assert trigger.category == "Incidents"
    payload = {
        "incidentId": "inc-9",
        "systemIds": ["db"],
        "severity": "major",
        "status": "fixing",
    }
    assert trigger.context_key(trigger.validate_payload(payload)) == "inc-9"
    optional = trigger.validate_payload(
        {**payload, "statusChange": "fixing", "title": "t", "createdAt": "2025-01-01T00:00:00Z"}
    )
    assert optional["statusChange"] == "fixing"


def test_there_is_no_incident_deleted_trigger() -> None:
    assert get_trigger("incident.deleted") is None


def test_incident_artifact_type_and_actions_are_registered() -> None:
    artifact = get_artifact_type("incident")
    assert artifact is not None
    assert set(artifact.schema.model_fields) == {"incidentId", "status", "severity", "systemIds"}
    create = get_action("incident.create")
    assert create is not None and create.produces == "incident"
    for action_id in ("incident.resolve", "incident.add_update", "incident.update_status"):
        action = get_action(action_id)
        assert action is not None, action_id
        assert "incident" in action.consumes
