"""On-time transitions: ``advance_due``, the django-q2 schedule that runs it, the command."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from statuspage.maintenance import services, tasks
from statuspage.maintenance.schedules import ADVANCE_TASK, on_post_migrate
from tests.statuspage.maintenance.helpers import (
    HOUR,
    changes,
    events,
    make_maintenance,
    reload,
    running,
    window,
)

pytestmark = pytest.mark.django_db


def test_a_maintenance_starts_when_its_start_passes(systems: list[str]) -> None:
    maintenance = make_maintenance(**window(start_in=HOUR, length=2 * HOUR))

    early = services.advance_due(timezone.now())
    advanced = services.advance_due(maintenance.starts_at)

    assert (early.started, early.completed) == ([], [])
    assert (advanced.started, advanced.completed) == ([maintenance.pk], [])
    maintenance = reload(maintenance)
    assert maintenance.status == "in_progress"
    assert maintenance.started_at is not None
    assert events(maintenance.pk) == ["maintenance.scheduled", "maintenance.started"]
    assert changes(maintenance.pk)[-1].actor == services.SCHEDULE_ACTOR
    assert [u.message for u in maintenance.updates.all()] == [
        "Scheduled maintenance is in progress."
    ]


def test_a_running_maintenance_completes_when_its_end_passes(systems: list[str]) -> None:
    maintenance = running()

    advanced = services.advance_due(maintenance.ends_at)

    assert (advanced.started, advanced.completed) == ([], [maintenance.pk])
    assert reload(maintenance).status == "completed"
    assert events(maintenance.pk)[-1] == "maintenance.completed"


def test_a_window_missed_while_the_worker_was_down_is_started_then_completed(
    systems: list[str],
) -> None:
    maintenance = make_maintenance()

    advanced = services.advance_due(maintenance.ends_at + HOUR)

    assert (advanced.started, advanced.completed) == ([maintenance.pk], [maintenance.pk])
    assert events(maintenance.pk) == [
        "maintenance.scheduled",
        "maintenance.started",
        "maintenance.completed",
    ]
    started, completed = changes(maintenance.pk)[1:]
    assert (started.delta, completed.delta) == (
        {"status": "in_progress"},
        {"status": "completed"},
    )
    assert completed.prev == started.next
    maintenance = reload(maintenance)
    assert [u.status_change for u in maintenance.updates.all()] == ["in_progress", "completed"]


def test_advancing_again_changes_nothing(systems: list[str]) -> None:
    maintenance = make_maintenance()
    later = maintenance.ends_at + HOUR
    services.advance_due(later)
    logged = len(changes(maintenance.pk))

    again = services.advance_due(later)

    assert (again.started, again.completed) == ([], [])
    assert len(changes(maintenance.pk)) == logged
    assert reload(maintenance).updates.count() == 2


def test_finished_and_future_maintenances_are_left_alone(systems: list[str]) -> None:
    cancelled = make_maintenance(title="Cancelled")
    services.cancel_maintenance(cancelled.pk)
    future = make_maintenance(title="Future", **window(start_in=48 * HOUR))
    moment = cancelled.ends_at + HOUR

    advanced = services.advance_due(moment)

    assert (advanced.started, advanced.completed) == ([], [])
    assert reload(cancelled).status == "cancelled"
    assert reload(future).status == "scheduled"


def test_due_maintenances_advance_in_start_order(systems: list[str]) -> None:
    second = make_maintenance(title="Second", **window(start_in=2 * HOUR, length=5 * HOUR))
    first = make_maintenance(title="First", **window(start_in=HOUR, length=5 * HOUR))

    advanced = services.advance_due(timezone.now() + 3 * HOUR)

    assert advanced.started == [first.pk, second.pk]


def test_the_task_advances_what_is_due_now(systems: list[str]) -> None:
    maintenance = make_maintenance(**window(start_in=HOUR))
    services.update_maintenance(maintenance.pk, starts_at=timezone.now() - HOUR)

    assert tasks.advance() == {"started": [maintenance.pk], "completed": []}


def test_the_command_reports_what_it_moved(systems: list[str]) -> None:
    maintenance = make_maintenance(**window(start_in=HOUR))
    services.update_maintenance(maintenance.pk, starts_at=timezone.now() - HOUR)
    out = io.StringIO()

    call_command("maintenance_advance", stdout=out)

    assert out.getvalue().splitlines() == [
        "Started 1, completed 0 maintenance(s).",
        f"  started {maintenance.pk}",
    ]


def test_migrate_creates_two_offset_schedules_once(db: None) -> None:
    Schedule.objects.filter(func=ADVANCE_TASK).delete()

    on_post_migrate(sender=None)
    on_post_migrate(sender=None)

    schedules = Schedule.objects.filter(func=ADVANCE_TASK).order_by("next_run")
    assert [s.name for s in schedules] == [
        "statuspage-maintenance-advance-a",
        "statuspage-maintenance-advance-b",
    ]
    assert {(s.schedule_type, s.minutes, s.repeats) for s in schedules} == {
        (Schedule.MINUTES, 1, -1)
    }
    a, b = schedules
    assert 25 <= (b.next_run - a.next_run).total_seconds() <= 35


def test_the_schedule_names_an_importable_task() -> None:
    module, _, name = ADVANCE_TASK.rpartition(".")

    assert module == tasks.__name__ and callable(getattr(tasks, name))
