"""Workers killed with SIGKILL in the middle of an automation run and of a webhook delivery.

The worker is a forked process running exactly what the django-q2 task runs
(``runs.execute_run``, ``webhooks.send_delivery``); it is killed while its step (or its HTTP
request) is in flight, then the work is resumed the way the sweeper resumes it. Everything
must complete exactly once: a run's database effects once, a webhook at most one extra attempt
with the same ``webhook-id``.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from pydantic import BaseModel, ConfigDict

from checkstack.automation import runs, services
from checkstack.automation.models import AutomationRun, RunStatus
from checkstack.automation.registry import ActionContext, ActionResult, register_action
from checkstack.entities.delivery import sweep_inline
from incidents import services as incidents
from incidents.models import IncidentUpdate
from tests.incidents.helpers import make_systems
from tests.processes import JOIN_TIMEOUT, backend_gone, backend_pid, fork_workers, join_all
from tests.qcluster import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Set by a test before forking: the child announces its backend here and hangs.
hang_marker: dict[str, str] = {}


class NoteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str


def note_then_hang(ctx: ActionContext, config: NoteConfig) -> ActionResult:
    """Write the note (a database effect of the step), then, in the child, hang."""
    incidents.add_update(str(ctx.context_key), message=config.message, run_id=ctx.run_id)
    marker = hang_marker.get("path")
    if marker:
        Path(marker).write_text(str(backend_pid()))
        time.sleep(60)
    return ActionResult(success=True)


def kill_when_announced(child: Any, marker: Path) -> int:
    """SIGKILL ``child`` once it wrote its backend pid to ``marker``; returns that pid."""
    try:
        assert wait_for(lambda: marker.exists() and marker.read_text() != ""), "never started"
        backend = int(marker.read_text())
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=JOIN_TIMEOUT)
    finally:
        join_all([child])
    assert child.exitcode == -signal.SIGKILL
    assert wait_for(lambda: backend_gone(backend)), "the killed worker's session is still open"
    return backend


def test_worker_killed_during_a_run_step_resumes_and_writes_the_step_once(
    isolated_registries: None, tmp_path: Path
) -> None:
    register_action(
        "test.note_then_hang", "Note", "Notes, hangs.", "Tests", NoteConfig, note_then_hang
    )
    make_systems("db")
    services.create_automation(
        name="note",
        trigger={"event": "incident.created", "filter": ""},
        steps=[
            {"id": "note", "action": "test.note_then_hang", "config": {"message": "paged"}},
            {"id": "after", "action": "incident.add_update", "config": {"message": "after"}},
        ],
    )
    incident = incidents.create_incident(title="X", severity="major", system_ids=["db"])
    sweep_inline()
    run = AutomationRun.objects.get()

    marker = tmp_path / "step-started"
    hang_marker["path"] = str(marker)
    (child,) = fork_workers([lambda: runs.execute_run(run.pk)])
    hang_marker.clear()  # the parent's action does not hang
    kill_when_announced(child, marker)

    # The claim committed, the step's work rolled back with the killed session.
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert not IncidentUpdate.objects.filter(incident=incident).exists()
    step = run.steps.get()
    assert (step.status, step.attempts) == ("running", 1)

    # The sweeper finds the stalled run and a worker resumes it.
    later = timezone.now() + dt.timedelta(minutes=5)
    assert runs.sweep(now=later)["runs_stalled"] == 1
    assert runs.execute_run(run.pk) == "success"

    messages = list(
        IncidentUpdate.objects.filter(incident=incident)
        .order_by("created_at", "id")
        .values_list("message", flat=True)
    )
    assert messages == ["paged", "after"]
    assert list(run.steps.order_by("position").values_list("step_id", "attempts")) == [
        ("note", 2),
        ("after", 1),
    ]
    connection.close()
