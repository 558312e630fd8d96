"""The ``maintenance`` entity: its state, the change log, and the triggers derived from it."""

from __future__ import annotations

import pytest

from checkstack.automation import get_trigger, list_triggers
from checkstack.entities.registry import get_handle
from statuspage.maintenance import services
from tests.statuspage.maintenance.helpers import (
    HOUR,
    assert_chained,
    changes,
    events,
    make_maintenance,
    payloads,
    running,
)

pytestmark = pytest.mark.django_db

TRIGGERS = (
    "maintenance.scheduled",
    "maintenance.started",
    "maintenance.completed",
    "maintenance.cancelled",
    "maintenance.updated",
)


def test_every_maintenance_trigger_is_registered_with_its_payload_schema() -> None:
    registered = {t.id: t for t in list_triggers()}

    for trigger_id in TRIGGERS:
        schema = registered[trigger_id].payload_schema.model_json_schema()
        assert set(schema["properties"]) == {
            "maintenanceId",
            "title",
            "systemIds",
            "status",
            "startsAt",
            "endsAt",
            "visibility",
        }
        assert get_trigger(trigger_id).context_key({"maintenanceId": "m-1"}) == "m-1"


def test_the_state_is_the_reactive_subset_with_sorted_systems(systems: list[str]) -> None:
    maintenance = make_maintenance(["web", "db"], visibility="logged_in")

    state = get_handle("maintenance").get(maintenance.pk)

    assert state.model_dump(mode="json") == {
        "status": "scheduled",
        "systemIds": ["db", "web"],
        "startsAt": maintenance.starts_at.isoformat().replace("+00:00", "Z"),
        "endsAt": maintenance.ends_at.isoformat().replace("+00:00", "Z"),
        "visibility": "logged_in",
    }


def test_a_lifecycle_derives_one_trigger_per_change_in_order(systems: list[str]) -> None:
    maintenance = make_maintenance(["db"])
    services.update_maintenance(maintenance.pk, ends_at=maintenance.ends_at + HOUR)
    services.start_maintenance(maintenance.pk)
    services.update_maintenance(maintenance.pk, system_ids=["api", "db"])
    services.complete_maintenance(maintenance.pk)

    assert events(maintenance.pk) == [
        "maintenance.scheduled",
        "maintenance.updated",
        "maintenance.started",
        "maintenance.updated",
        "maintenance.completed",
    ]
    assert len(changes(maintenance.pk)) == 5
    assert_chained(changes(maintenance.pk))


@pytest.mark.parametrize("status", ["scheduled", "in_progress"])
def test_cancelling_derives_cancelled(systems: list[str], status: str) -> None:
    maintenance = make_maintenance() if status == "scheduled" else running()

    services.cancel_maintenance(maintenance.pk)

    assert events(maintenance.pk)[-1] == "maintenance.cancelled"


def test_the_payload_carries_the_title_window_and_visibility(systems: list[str]) -> None:
    maintenance = make_maintenance(["web", "db"], title="Failover test", visibility="internal")

    (payload,) = payloads(maintenance.pk)

    assert payload == {
        "maintenanceId": maintenance.pk,
        "title": "Failover test",
        "systemIds": ["db", "web"],
        "status": "scheduled",
        "startsAt": maintenance.starts_at.isoformat().replace("+00:00", "Z"),
        "endsAt": maintenance.ends_at.isoformat().replace("+00:00", "Z"),
        "visibility": "internal",
    }


def test_changes_outside_the_state_log_nothing(systems: list[str]) -> None:
    maintenance = make_maintenance()

    services.update_maintenance(maintenance.pk, title="Renamed", description="More words")
    services.add_update(maintenance.pk, message="Reminder")

    assert len(changes(maintenance.pk)) == 1


def test_deleting_logs_a_tombstone_and_derives_no_trigger(systems: list[str]) -> None:
    maintenance = make_maintenance()

    services.delete_maintenance(maintenance.pk)

    assert changes(maintenance.pk)[-1].next is None
    assert events(maintenance.pk) == ["maintenance.scheduled"]
