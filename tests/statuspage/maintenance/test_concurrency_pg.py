"""The schedule under real concurrency on PostgreSQL: threads with their own connections.

Every test commits for real (``transaction=True``), so the workers wait on each other's entity
locks as two django-q2 workers running the schedule at once would.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from catalog import services as catalog
from statuspage.maintenance import services
from statuspage.models import Maintenance, MaintenanceUpdate
from tests.statuspage.maintenance.helpers import (
    HOUR,
    assert_chained,
    changes,
    events,
    make_maintenance,
    window,
)
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_workers_advancing_at_once_move_each_maintenance_once() -> None:
    catalog.create_system(id="db", name="Database")
    missed = [make_maintenance(title=f"missed {n}") for n in range(6)]
    starting = [
        make_maintenance(title=f"starting {n}", **window(start_in=HOUR, length=10 * HOUR))
        for n in range(6)
    ]
    moment = timezone.now() + 3 * HOUR  # every missed window ended, every other one started

    workers = run_together(*(lambda: services.advance_due(moment) for _ in range(3)))

    assert [w.error for w in workers] == [None, None, None]
    started = sorted(i for w in workers for i in w.result.started)
    completed = sorted(i for w in workers for i in w.result.completed)
    assert started == sorted(m.pk for m in missed + starting)
    assert completed == sorted(m.pk for m in missed)
    for maintenance in missed:
        assert events(maintenance.pk) == [
            "maintenance.scheduled",
            "maintenance.started",
            "maintenance.completed",
        ]
        assert MaintenanceUpdate.objects.filter(maintenance_id=maintenance.pk).count() == 2
    for maintenance in starting:
        assert events(maintenance.pk) == ["maintenance.scheduled", "maintenance.started"]
    assert set(Maintenance.objects.values_list("status", flat=True)) == {
        "completed",
        "in_progress",
    }
    _assert_chained()


def test_an_operator_cancelling_while_the_schedule_starts_gets_one_consistent_history() -> None:
    catalog.create_system(id="db", name="Database")
    for round_ in range(8):
        maintenance = make_maintenance(title=f"round {round_}", **window(start_in=HOUR))
        moment = maintenance.starts_at

        schedule, operator = run_together(
            lambda moment=moment: services.advance_due(moment),
            lambda pk=maintenance.pk: services.cancel_maintenance(pk),
        )

        assert (schedule.error, operator.error) == (None, None)
        history = events(maintenance.pk)
        assert history in (
            ["maintenance.scheduled", "maintenance.started", "maintenance.cancelled"],
            ["maintenance.scheduled", "maintenance.cancelled"],
        )
        assert Maintenance.objects.get(pk=maintenance.pk).status == "cancelled"
    _assert_chained()


def _assert_chained() -> None:
    for maintenance_id in Maintenance.objects.values_list("pk", flat=True):
        assert_chained(changes(maintenance_id))
