"""The automation sweeper: its schedules after migrate, and ``manage.py automation_sweep``."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from checkstack.automation import services
from checkstack.automation.models import AutomationRun, RunStatus
from checkstack.entities.delivery import sweep_inline
from incidents import services as incidents
from tests.automation.helpers import critical_incident_definition
from tests.incidents.helpers import make_systems

pytestmark = pytest.mark.django_db


def test_automation_sweep_schedules_exist_after_migrations() -> None:
    schedules = Schedule.objects.filter(name__startswith="checkstack-automation-sweep")
    assert sorted(schedules.values_list("name", "func", "minutes")) == [
        ("checkstack-automation-sweep-a", "checkstack.automation.tasks.sweep", 1),
        ("checkstack-automation-sweep-b", "checkstack.automation.tasks.sweep", 1),
    ]


def test_automation_sweep_inline_executes_pending_runs_without_a_worker() -> None:
    make_systems("db")
    services.create_automation(**critical_incident_definition())
    incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    sweep_inline()
    assert AutomationRun.objects.get().status == RunStatus.PENDING
    out = StringIO()
    call_command("automation_sweep", "--inline", stdout=out)
    assert AutomationRun.objects.get().status == RunStatus.SUCCESS
    assert "Executed 1 run(s)" in out.getvalue()


def test_automation_sweep_without_inline_only_reports() -> None:
    out = StringIO()
    call_command("automation_sweep", stdout=out)
    assert "runs_stalled: 0" in out.getvalue()
    assert "webhook_deliveries: 0" in out.getvalue()
