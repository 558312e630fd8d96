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


def test_worker_killed_during_a_webhook_post_is_resent_once_with_the_same_webhook_id() -> None:
    from checkstack.automation import webhooks
    from checkstack.automation.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
    from tests.automation.receiver import WebhookReceiver

    make_systems("db")
    # The first request hangs at the receiver, so the worker is killed in the middle of it.
    with WebhookReceiver(delay=30.0) as slow, WebhookReceiver() as fast:
        endpoint = webhooks.create_endpoint(url=slow.url, events=["incident.created"])
        incidents.create_incident(title="X", severity="major", system_ids=["db"])
        sweep_inline()
        delivery = WebhookDelivery.objects.get()
        (child,) = fork_workers([lambda: webhooks.send_delivery(delivery.pk)])
        try:
            slow.wait_for(1, timeout=JOIN_TIMEOUT)
            os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
            child.join(timeout=JOIN_TIMEOUT)
        finally:
            join_all([child])
        assert child.exitcode == -signal.SIGKILL
        connection.close()

        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("sending", 1)
        # The receiver is back to normal (same endpoint, now answering at once).
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=fast.url)
        assert webhooks.deliver_due_inline() == 0  # the claim has not expired yet
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            claimed_until=timezone.now() - dt.timedelta(seconds=1)
        )
        assert webhooks.sweep()["webhook_lost_deliveries"] == 1
        assert webhooks.deliver_due_inline() == 1
        assert webhooks.deliver_due_inline() == 0
        (first,) = slow.requests
        (second,) = fast.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.message_id
    assert first.body == second.body
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("success", 2)
    assert list(
        WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "outcome")
    ) == [(1, "retry"), (2, "success")]
