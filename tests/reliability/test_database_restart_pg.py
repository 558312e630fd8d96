"""Restarting PostgreSQL while the workers run: they recover without manual action, and after
the sweeper's next pass nothing is pending.

A real ``manage.py qcluster`` (2 workers, ORM broker) processes work through every worker path:
catalog-system changes (entity deliveries to the incidents cleanup queue), trigger events
(dispatch), automation runs (an ``incident.add_update`` note on every new incident) and webhook
deliveries (an endpoint on every event, posting to a local receiver). Incidents are created
before, right before (so work is in flight), during and after the restart.

How PostgreSQL is restarted: if ``CHECKSTACK_TEST_PG_RESTART`` is set, it is run as a shell
command that restarts the server for real (``.ci/run`` sets it for its private cluster; never
point it at a shared server). Otherwise, as a fallback, the test simulates what clients see
from a restart by terminating every other backend connected to the test database
(``pg_terminate_backend``): the cluster's and the writers' connections break mid-work, though
the server never refuses new connections as a real restart briefly does.

The sweeper runs in the test process with its grace and stale periods at zero (the next pass,
as if the periods had passed). A webhook claim (``LEASE``, 5 s, renewed during the POST) is
not shortened: a delivery whose worker lost its connection after the POST stays ``sending``
until it lapses. Claims older than anything a live worker could still be doing with the
local receiver are moved to "expired now", as if that time had passed.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from catalog import services as catalog
from checkstack.automation import services as automations
from checkstack.automation import tasks as automation_tasks
from checkstack.automation import webhooks
from checkstack.automation.models import (
    AutomationRun,
    RunStatus,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from checkstack.entities import delivery as entity_delivery
from checkstack.entities.models import Delivery, DeliveryStatus, TriggerEvent
from incidents import services as incidents
from incidents.models import Incident, IncidentUpdate
from tests.automation.receiver import WebhookReceiver
from tests.qcluster import running_qcluster, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

T = TypeVar("T")

RESTART_COMMAND = "CHECKSTACK_TEST_PG_RESTART"
NOTE = "Seen by the on-call automation"
BATCH = 6  # incidents per batch (before, right before, after the restart)
OUTAGE_WRITE_DEADLINE = 60.0  # seconds a write may keep failing while the server restarts
FLOW_TIMEOUT = 45.0  # the pusher sleeps 10 s after a failed poll before it is reincarnated
SETTLE_TIMEOUT = 30.0
LIVE_CLAIM_SECONDS = 5.0  # far longer than a POST to the local receiver takes
FINAL_RUN_STATUSES = (RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.SKIPPED)
FINAL_WEBHOOK_STATUSES = (WebhookDeliveryStatus.SUCCESS, WebhookDeliveryStatus.FAILED)


def note_automation() -> dict[str, Any]:
    return {
        "name": "Note every new incident",
        "trigger": {"event": "incident.created"},
        # One bucket per incident: no run is skipped however many incidents arrive at once.
        "concurrency": {"scope": "context_key", "mode": "parallel", "max_runs": 1},
        "steps": [{"id": "note", "action": "incident.add_update", "config": {"message": NOTE}}],
    }


def retrying(write: Callable[[], T], *, deadline: float = OUTAGE_WRITE_DEADLINE) -> T:
    """``write()``, retried on a fresh connection while the database is unreachable."""
    end = time.monotonic() + deadline
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError):
            connection.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def create_incident(title: str) -> str:
    incident = retrying(
        lambda: incidents.create_incident(title=title, severity="critical", system_ids=["db"])
    )
    return str(incident.pk)


def create_batch(label: str) -> None:
    """``BATCH`` incidents and one catalog system (a delivery to the cleanup queue)."""
    slug = label.replace(" ", "-")
    retrying(lambda: catalog.create_system(id=f"sys-{slug}", name=f"System {label}"))
    for n in range(BATCH):
        create_incident(f"{label} #{n}")


class OutageWriter(threading.Thread):
    """Creates incidents on its own connection until stopped, retrying through the outage."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.created: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                self.created.append(create_incident(f"during the restart #{n}"))
                n += 1
                time.sleep(0.05)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connection.close()


def server_started_at() -> dt.datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        return cursor.fetchone()[0]  # type: ignore[no-any-return,index]


def restart_postgresql() -> str:
    """Restart the server (``CHECKSTACK_TEST_PG_RESTART``) or, as a fallback, terminate every
    other backend of the test database; asserts that something happened."""
    command = os.environ.get(RESTART_COMMAND, "").strip()
    if command:
        before = server_started_at()
        result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{command!r} failed:\n{result.stdout}\n{result.stderr}"
        connection.close()
        after = retrying(server_started_at)
        assert after > before, "the restart command did not restart the server"
        return "restart"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (terminated,) = cursor.fetchone()  # type: ignore[misc]
    connection.close()
    assert terminated > 0, "no other backend was connected to the test database"
    return f"terminated {terminated} backends"


def expire_abandoned_webhook_claims() -> int:
    """Let claims that no live worker can still hold expire now (see the module docstring)."""
    now = timezone.now()
    claimed_before = now - dt.timedelta(seconds=LIVE_CLAIM_SECONDS)
    claim_seconds = dt.timedelta(seconds=webhooks.policy.claim_seconds())
    return WebhookDelivery.objects.filter(
        status=WebhookDeliveryStatus.SENDING, claimed_until__lte=claimed_before + claim_seconds
    ).update(claimed_until=now)


def pending() -> dict[str, int]:
    """What is still waiting for a worker, by kind (empty: nothing pending)."""
    counts = {
        "undispatched trigger events": TriggerEvent.objects.filter(
            dispatched_at__isnull=True
        ).count(),
        "unfinished entity deliveries": Delivery.objects.exclude(
            status__in=[DeliveryStatus.DONE, DeliveryStatus.DEAD]
        ).count(),
        "unfinished runs": AutomationRun.objects.exclude(status__in=FINAL_RUN_STATUSES).count(),
        "unfinished webhook deliveries": WebhookDelivery.objects.exclude(
            status__in=FINAL_WEBHOOK_STATUSES
        ).count(),
        "incidents without their note": Incident.objects.exclude(updates__message=NOTE).count(),
    }
    return {kind: count for kind, count in counts.items() if count}


def batch_flowed(prefix: str) -> bool:
    """Every incident whose title starts with ``prefix`` has its note (its run succeeded)."""
    batch = Incident.objects.filter(title__startswith=prefix)
    return batch.count() == BATCH and not batch.exclude(updates__message=NOTE).exists()


def test_workers_recover_from_a_database_restart_and_nothing_stays_pending(
    settings: Any, tmp_path: Path
) -> None:
    settings.CHECKSTACK_ENQUEUE = True
    # The sweeper's next pass runs in this process, as if the grace and stale periods passed.
    settings.CHECKSTACK_SWEEP_GRACE = 0
    settings.CHECKSTACK_RUN_STALE_SECONDS = 0
    catalog.create_system(id="db", name="Database")
    automations.create_automation(**note_automation())
    log = tmp_path / "qcluster.log"
    with WebhookReceiver() as receiver:
        webhooks.create_endpoint(url=receiver.url)  # every event
        with running_qcluster(log) as cluster:

            def output() -> str:
                return log.read_text(errors="replace")[-6000:]

            create_batch("before")
            assert wait_for(lambda: batch_flowed("before #"), timeout=FLOW_TIMEOUT), output()

            writer = OutageWriter()
            writer.start()
            create_batch("right before")  # in flight when the server goes away
            how = restart_postgresql()
            time.sleep(0.5)  # the writer keeps writing across the outage
            writer.stop.set()
            writer.join(OUTAGE_WRITE_DEADLINE + 10)
            assert not writer.is_alive() and writer.error is None, writer.error

            # No manual action: new work flows through the same cluster after the restart.
            create_batch("after")
            recovered = wait_for(lambda: batch_flowed("after #"), timeout=FLOW_TIMEOUT)
            assert recovered, f"{how}: the cluster did not recover\n{output()}"
            assert cluster.poll() is None, f"{how}: the cluster exited\n{output()}"

            # The sweeper's next pass re-enqueues what the outage lost; the cluster does it.
            time.sleep(1.0)  # tasks in flight finish: the pass then re-enqueues only lost work
            expire_abandoned_webhook_claims()
            retrying(entity_delivery.sweep)
            retrying(automation_tasks.sweep)
            settled = wait_for(lambda: not pending(), timeout=SETTLE_TIMEOUT)
            assert settled, f"{how}: still pending after the sweep: {pending()}\n{output()}"
            assert cluster.poll() is None, f"{how}: the cluster exited\n{output()}"
        received = Counter(r.headers.get("webhook-id") for r in receiver.requests)

    assert len(writer.created) > 0
    incident_count = Incident.objects.count()
    assert incident_count >= 3 * BATCH + len(writer.created)
    # Every incident got its note exactly once.
    notes = Counter(
        IncidentUpdate.objects.filter(message=NOTE).values_list("incident_id", flat=True)
    )
    assert len(notes) == incident_count
    assert set(notes.values()) == {1}, {k: v for k, v in notes.items() if v != 1}
    # One successful run per incident.created event.
    runs = Counter(AutomationRun.objects.values_list("status", flat=True))
    assert runs == {RunStatus.SUCCESS: incident_count}, runs
    assert TriggerEvent.objects.filter(event="incident.created").count() == incident_count
    # Every entity delivery done (no dead ones).
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DONE}
    # Every event reached the receiver at least once, under its delivery's webhook-id.
    deliveries = list(WebhookDelivery.objects.values_list("message_id", "status"))
    assert len(deliveries) == TriggerEvent.objects.count()
    assert {status for _, status in deliveries} == {WebhookDeliveryStatus.SUCCESS}
    missing = {message_id for message_id, _ in deliveries} - set(received)
    assert not missing, f"never received: {sorted(missing)}"
