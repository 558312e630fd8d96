"""Maintenance services: scheduling, changing, the timeline and the status rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from checkstack.entities.models import Change
from checkstack.errors import Conflict, NotFound
from statuspage.maintenance import services
from statuspage.models import Maintenance, MaintenanceSystem, MaintenanceUpdate
from tests.api.helpers import make_user
from tests.statuspage.maintenance.helpers import (
    HOUR,
    changes,
    make_maintenance,
    reload,
    running,
    window,
)

pytestmark = pytest.mark.django_db


def nothing_written() -> bool:
    return not (
        Maintenance.objects.exists()
        or MaintenanceSystem.objects.exists()
        or Change.objects.filter(kind="maintenance").exists()
    )


# -- scheduling ---------------------------------------------------------------------------


def test_creating_schedules_the_maintenance_with_its_sorted_systems(systems: list[str]) -> None:
    times = window()
    maintenance = services.create_maintenance(
        title="  Upgrade  ", system_ids=["web", "db", "web"], description="Details", **times
    )

    maintenance = reload(maintenance)
    assert maintenance.title == "Upgrade"
    assert maintenance.status == "scheduled"
    assert maintenance.visibility == "public"
    assert (maintenance.starts_at, maintenance.ends_at) == (times["starts_at"], times["ends_at"])
    assert maintenance.started_at is None and maintenance.finished_at is None
    (created,) = changes(maintenance.pk)
    assert created.prev is None
    assert created.next["systemIds"] == ["db", "web"]
    assert created.next["status"] == "scheduled"


def test_a_blank_description_is_stored_empty(systems: list[str]) -> None:
    maintenance = make_maintenance(description="   ")

    assert reload(maintenance).description == ""


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ends_at": "same as start"}, "ends_at"),
        ({"ends_at": "before start"}, "ends_at"),
        ({"system_ids": []}, "system_ids"),
        ({"system_ids": ["db", "nope"]}, "system_ids"),
        ({"system_ids": "db"}, "system_ids"),
        ({"visibility": "secret"}, "visibility"),
        ({"title": " "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"starts_at": dt.datetime(2099, 1, 1, 10)}, "starts_at"),
        ({"starts_at": "2099-01-01T10:00:00Z"}, "starts_at"),
        ({"description": "nul \x00"}, "description"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    systems: list[str], fields: dict[str, Any], field: str
) -> None:
    values: dict[str, Any] = {"title": "Upgrade", "system_ids": ["db"], **window(), **fields}
    if values["ends_at"] == "same as start":
        values["ends_at"] = values["starts_at"]
    elif values["ends_at"] == "before start":
        values["ends_at"] = values["starts_at"] - dt.timedelta(seconds=1)

    with pytest.raises(ValidationError) as raised:
        services.create_maintenance(**values)

    assert field in raised.value.message_dict
    assert nothing_written()


def test_unknown_system_ids_are_named(systems: list[str]) -> None:
    with pytest.raises(ValidationError) as raised:
        make_maintenance(["db", "ghost", "phantom"])

    assert raised.value.message_dict == {"system_ids": ["Unknown system ids: ghost, phantom."]}


def test_a_window_that_already_ended_is_refused(systems: list[str]) -> None:
    with pytest.raises(ValidationError) as raised:
        make_maintenance(**window(start_in=-3 * HOUR))

    assert raised.value.message_dict == {"ends_at": ["Must be in the future."]}
    assert nothing_written()


def test_a_window_that_already_started_is_accepted(systems: list[str]) -> None:
    maintenance = make_maintenance(**window(start_in=-HOUR, length=2 * HOUR))

    assert maintenance.status == "scheduled"  # the schedule starts it


# -- changing -----------------------------------------------------------------------------


def test_updating_changes_the_given_fields_and_logs_the_reactive_ones(systems: list[str]) -> None:
    maintenance = make_maintenance(["db"])
    later = maintenance.ends_at + HOUR

    services.update_maintenance(
        maintenance.pk, title="Longer upgrade", ends_at=later, system_ids=["api", "db"]
    )

    maintenance = reload(maintenance)
    assert maintenance.title == "Longer upgrade"
    assert maintenance.ends_at == later
    first, second = changes(maintenance.pk)
    assert second.prev == first.next
    assert second.changed_fields == ["endsAt", "systemIds"]


def test_a_new_end_is_checked_against_the_stored_start(systems: list[str]) -> None:
    maintenance = make_maintenance()

    with pytest.raises(ValidationError) as raised:
        services.update_maintenance(maintenance.pk, ends_at=maintenance.starts_at - HOUR)

    assert raised.value.message_dict == {"ends_at": ["Must be after starts_at."]}
    assert reload(maintenance).ends_at == maintenance.ends_at
    assert len(changes(maintenance.pk)) == 1


def test_the_status_cannot_be_set_by_an_update(systems: list[str]) -> None:
    maintenance = make_maintenance()

    with pytest.raises(ValidationError) as raised:
        services.update_maintenance(maintenance.pk, status="completed", title="Other")

    assert list(raised.value.message_dict) == ["status"]
    assert reload(maintenance).title == "Database upgrade"


def test_a_started_maintenance_keeps_its_start_but_may_end_later(systems: list[str]) -> None:
    maintenance = running()

    with pytest.raises(Conflict):
        services.update_maintenance(maintenance.pk, starts_at=maintenance.starts_at + HOUR)
    services.update_maintenance(maintenance.pk, ends_at=maintenance.ends_at + HOUR)

    assert reload(maintenance).ends_at == maintenance.ends_at + HOUR


@pytest.mark.parametrize("finish", ["complete_maintenance", "cancel_maintenance"])
def test_a_finished_maintenance_keeps_its_window_and_systems(
    systems: list[str], finish: str
) -> None:
    maintenance = running()
    getattr(services, finish)(maintenance.pk)

    with pytest.raises(Conflict):
        services.update_maintenance(maintenance.pk, ends_at=maintenance.ends_at + HOUR)
    with pytest.raises(Conflict):
        services.update_maintenance(maintenance.pk, system_ids=["api"])
    services.update_maintenance(maintenance.pk, title="Renamed", system_ids=["db"])

    assert reload(maintenance).title == "Renamed"


def test_deleting_leaves_a_tombstone_and_no_rows(systems: list[str]) -> None:
    maintenance = running()

    services.delete_maintenance(maintenance.pk)

    assert not Maintenance.objects.exists()
    assert not MaintenanceUpdate.objects.exists()
    assert changes(maintenance.pk)[-1].next is None
    with pytest.raises(NotFound):
        services.delete_maintenance(maintenance.pk)


def test_writes_to_an_unknown_maintenance_are_not_found(db: None) -> None:
    with pytest.raises(NotFound):
        services.update_maintenance("nope", title="x")
    with pytest.raises(NotFound):
        services.start_maintenance("nope")
    with pytest.raises(NotFound):
        services.add_update("nope", message="x")


# -- the status rules ---------------------------------------------------------------------

TRANSITIONS = {
    "start_maintenance": "in_progress",
    "complete_maintenance": "completed",
    "cancel_maintenance": "cancelled",
}
ALLOWED = {
    ("scheduled", "start_maintenance"),
    ("scheduled", "cancel_maintenance"),
    ("in_progress", "complete_maintenance"),
    ("in_progress", "cancel_maintenance"),
}


def in_status(status: str) -> Any:
    maintenance = make_maintenance()
    if status in ("in_progress", "completed"):
        services.start_maintenance(maintenance.pk)
    if status == "completed":
        services.complete_maintenance(maintenance.pk)
    if status == "cancelled":
        services.cancel_maintenance(maintenance.pk)
    return reload(maintenance)


@pytest.mark.parametrize("status", ["scheduled", "in_progress", "completed", "cancelled"])
@pytest.mark.parametrize("service", list(TRANSITIONS))
def test_transitions_follow_the_rules(systems: list[str], status: str, service: str) -> None:
    maintenance = in_status(status)
    before = len(changes(maintenance.pk))

    if (status, service) in ALLOWED:
        moved = getattr(services, service)(maintenance.pk, message="Now")
        assert reload(moved).status == TRANSITIONS[service]
        assert maintenance.updates.order_by("-created_at", "-id").first().message == "Now"
        assert len(changes(maintenance.pk)) == before + 1
    else:
        with pytest.raises(Conflict):
            getattr(services, service)(maintenance.pk)
        assert reload(maintenance).status == status
        assert len(changes(maintenance.pk)) == before


def test_transitions_stamp_their_time_and_write_the_default_message(systems: list[str]) -> None:
    maintenance = make_maintenance()
    before = timezone.now()

    services.start_maintenance(maintenance.pk)
    services.complete_maintenance(maintenance.pk)

    maintenance = reload(maintenance)
    assert before <= maintenance.started_at <= maintenance.finished_at
    assert [(u.status_change, u.message) for u in maintenance.updates.all()] == [
        ("in_progress", "Scheduled maintenance is in progress."),
        ("completed", "Scheduled maintenance has been completed."),
    ]


def test_a_conflict_says_why(systems: list[str]) -> None:
    maintenance = make_maintenance()

    with pytest.raises(Conflict) as raised:
        services.complete_maintenance(maintenance.pk)

    assert str(raised.value) == (
        f"Maintenance {maintenance.pk} is scheduled; it can become completed only from in_progress."
    )


# -- the timeline -------------------------------------------------------------------------


def test_an_update_without_a_status_change_changes_no_state(systems: list[str]) -> None:
    author = make_user("author", first_name="Ann")
    maintenance = make_maintenance()

    update = services.add_update(
        maintenance.pk, message="Still planned", visibility="internal", actor=author
    )

    assert (update.message, update.visibility, update.created_by) == (
        "Still planned",
        "internal",
        author,
    )
    assert len(changes(maintenance.pk)) == 1
    assert reload(maintenance).updated_at == update.created_at


def test_an_update_may_carry_a_transition(systems: list[str]) -> None:
    maintenance = make_maintenance()

    services.add_update(maintenance.pk, message="Starting early", status_change="in_progress")

    assert reload(maintenance).status == "in_progress"
    assert changes(maintenance.pk)[-1].delta == {"status": "in_progress"}


@pytest.mark.parametrize("status_change", ["scheduled", "completed"])
def test_an_update_with_a_disallowed_transition_is_a_conflict_and_adds_nothing(
    systems: list[str], status_change: str
) -> None:
    maintenance = make_maintenance()

    with pytest.raises(Conflict):
        services.add_update(maintenance.pk, message="x", status_change=status_change)

    assert not MaintenanceUpdate.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"message": ""}, "message"),
        ({"message": "x", "status_change": "done"}, "status_change"),
        ({"message": "x", "visibility": "everyone"}, "visibility"),
    ],
)
def test_bad_updates_name_the_field(systems: list[str], fields: dict[str, Any], field: str) -> None:
    maintenance = make_maintenance()

    with pytest.raises(ValidationError) as raised:
        services.add_update(maintenance.pk, **fields)

    assert list(raised.value.message_dict) == [field]
    assert not MaintenanceUpdate.objects.exists()


# -- reads --------------------------------------------------------------------------------

ALL = frozenset({"public", "logged_in", "internal"})


def test_active_and_upcoming_lists_running_then_scheduled_by_start(systems: list[str]) -> None:
    later = make_maintenance(title="Later", **window(start_in=3 * HOUR))
    sooner = make_maintenance(title="Sooner", **window(start_in=HOUR))
    now_running = running(title="Running", **window(start_in=2 * HOUR))
    done = running(title="Done")
    services.complete_maintenance(done.pk)
    cancelled = make_maintenance(title="Cancelled")
    services.cancel_maintenance(cancelled.pk)

    listed = services.active_and_upcoming(ALL)

    assert [m.title for m in listed] == ["Sooner", "Running", "Later"]
    assert {m.pk for m in listed} == {later.pk, sooner.pk, now_running.pk}


def test_active_and_upcoming_leaves_out_scheduled_ones_whose_end_passed(
    systems: list[str],
) -> None:
    make_maintenance(title="Missed")
    Maintenance.objects.update(starts_at=timezone.now() - 2 * HOUR, ends_at=timezone.now() - HOUR)

    assert services.active_and_upcoming(ALL) == []


def test_reads_show_what_the_audience_may_see(systems: list[str]) -> None:
    made = {v: make_maintenance(title=v, visibility=v) for v in ("public", "logged_in", "internal")}
    for maintenance in made.values():
        for visibility in ("public", "logged_in", "internal"):
            services.add_update(maintenance.pk, message=visibility, visibility=visibility)
    logged_in = frozenset({"public", "logged_in"})

    listed = services.active_and_upcoming(logged_in)

    assert sorted(m.title for m in listed) == ["logged_in", "public"]
    for maintenance in listed:
        assert [u.visibility for u in maintenance.updates.all()] == ["public", "logged_in"]
    assert services.get_maintenance(made["public"].pk, visibilities=logged_in).title == "public"
    with pytest.raises(NotFound):
        services.get_maintenance(made["internal"].pk, visibilities=logged_in)


def test_the_list_filters_and_orders(systems: list[str]) -> None:
    first = make_maintenance(["db"], title="First", **window(start_in=HOUR))
    second = make_maintenance(["api"], title="Second", **window(start_in=2 * HOUR))
    services.start_maintenance(second.pk)

    def titles(**filters: Any) -> list[str]:
        return [m.title for m in services.list_maintenances(visibilities=ALL, **filters)]

    assert titles() == ["Second", "First"]
    assert titles(ordering="starts_at") == ["First", "Second"]
    assert titles(status="in_progress") == ["Second"]
    assert titles(system_id="db") == ["First"]
    assert titles(visibility="internal") == []
    with pytest.raises(ValidationError):
        titles(ordering="title")
    assert first.pk != second.pk
