"""``seed_demo`` adds the status page's demo maintenance through ``seed_status_demo``."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from statuspage.maintenance.choices import MaintenanceStatus
from statuspage.models import Maintenance, Subscriber

pytestmark = pytest.mark.django_db


def test_seed_demo_adds_one_running_and_one_upcoming_maintenance_once() -> None:
    call_command("seed_demo", stdout=io.StringIO())

    statuses = dict(Maintenance.objects.values_list("title", "status"))
    assert statuses == {
        "Web app deployment window": MaintenanceStatus.IN_PROGRESS,
        "Database upgrade": MaintenanceStatus.SCHEDULED,
    }
    running = Maintenance.objects.get(status=MaintenanceStatus.IN_PROGRESS)
    assert list(running.systems.values_list("system_id", flat=True)) == ["web"]

    assert sorted(Subscriber.objects.values_list("email", flat=True)) == [
        "ops-team@example.com",
        "web-customers@example.com",
    ]
    assert not Subscriber.objects.filter(confirmed_at__isnull=True).exists()

    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert Maintenance.objects.count() == 2
    assert Subscriber.objects.count() == 2
    assert "Demo maintenance and subscribers already exist; nothing created." in out.getvalue()
