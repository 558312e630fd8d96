"""Recovery time after a real crash: a ``qcluster`` SIGKILLed in the middle of a webhook POST.

The whole cluster (sentinel and workers) is killed while its worker waits for a receiver that
never answers; a new cluster is started. With the default timing (``LEASE`` 5 s renewed during
the POST, the recovery watch looking every ``RECOVERY_INTERVAL`` 2 s) the delivery must be sent
again, and the later delivery of the same incident after it, within 20 s of the kill; each
attempt is sent once and recorded once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from checkstack.automation import services, webhooks
from checkstack.automation.models import AutomationRun, WebhookAttempt, WebhookDelivery
from checkstack.automation.webhooks.attempt import LOST_ERROR
from incidents import services as incidents
from incidents.models import IncidentUpdate
from tests.automation.helpers import critical_incident_definition, note_step
from tests.automation.receiver import ReceivedRequest, WebhookReceiver
from tests.automation.webhook_helpers import make_event
from tests.incidents.helpers import make_systems
from tests.qcluster import running_qcluster, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RECOVERY_BOUND = 20.0  # seconds from the kill, with the default settings


class FirstRequestHangs(WebhookReceiver):
    """Answers 200 at once, except the first request, which waits until the test ends; keeps
    the arrival time of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []
        self.released = threading.Event()

    def _record(self, request: ReceivedRequest) -> int:
        status = super()._record(request)
        with self._arrived:
            self.arrivals.append(time.monotonic())
            first = len(self.arrivals) == 1
        if first:
            self.released.wait(60)
        return status

    def stop(self) -> None:
        self.released.set()
        super().stop()


def test_a_killed_cluster_s_webhook_is_resent_within_20_s_keeping_the_incident_order(
    tmp_path: Path,
) -> None:
    with FirstRequestHangs() as receiver:
        webhooks.create_endpoint(url=receiver.url, events=["*"])
        (first,) = webhooks.create_deliveries_for_event(make_event("incident.created"))
        (second,) = webhooks.create_deliveries_for_event(make_event("incident.updated"))
        with running_qcluster(tmp_path / "killed.log") as cluster:
            receiver.wait_for(1, timeout=30)  # the POST of ``first`` is in flight
            os.killpg(cluster.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            cluster.wait(timeout=10)
        assert WebhookDelivery.objects.get(pk=first).status == "sending"
        assert WebhookDelivery.objects.get(pk=second).status == "pending"

        with running_qcluster(tmp_path / "new.log"):
            remaining = RECOVERY_BOUND - (time.monotonic() - killed_at)
            receiver.wait_for(3, timeout=remaining)
            assert wait_for(
                lambda: not WebhookDelivery.objects.exclude(status="success").exists(), 5
            )
            time.sleep(1.0)  # nothing is sent a second time
        requests, arrivals = list(receiver.requests), list(receiver.arrivals)

    recovered = arrivals[1] - killed_at
    print(f"kill -> redelivery {recovered:.2f} s, -> next delivery {arrivals[2] - killed_at:.2f} s")
    assert recovered < RECOVERY_BOUND
    assert arrivals[2] - killed_at < RECOVERY_BOUND
    ids = {pk: WebhookDelivery.objects.get(pk=pk).message_id for pk in (first, second)}
    assert [r.headers["webhook-id"] for r in requests] == [ids[first], ids[first], ids[second]]
    assert requests[0].body == requests[1].body
    assert list(
        WebhookAttempt.objects.filter(delivery_id=first)
        .order_by("number")
        .values_list("number", "outcome", "error")
    ) == [(1, "retry", LOST_ERROR), (2, "success", "")]
    assert list(
        WebhookAttempt.objects.filter(delivery_id=second).values_list("number", "outcome")
    ) == [(1, "success")]
    connection.close()


def test_a_live_worker_whose_post_outlasts_the_lease_is_not_overtaken(tmp_path: Path) -> None:
    # 6.5 s: past the 5 s lease, within the 10 s timeout; the heartbeat keeps the claim.
    with WebhookReceiver(delay=6.5) as receiver:
        webhooks.create_endpoint(url=receiver.url, events=["*"])
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        with running_qcluster(tmp_path / "cluster.log"):
            receiver.wait_for(1, timeout=30)
            assert wait_for(lambda: WebhookDelivery.objects.get().status == "success", 10)
        assert len(receiver.requests) == 1
    assert list(
        WebhookAttempt.objects.filter(delivery_id=delivery_id).values_list("number", "outcome")
    ) == [(1, "success")]
    connection.close()


def test_a_run_of_a_killed_cluster_is_resumed_within_20_s(
    isolated_registries: None, tmp_path: Path
) -> None:
    make_systems("db")
    with FirstRequestHangs() as receiver:
        definition = critical_incident_definition()
        definition["steps"] = [
            {"id": "page", "action": "webhook.send", "config": {"url": receiver.url}},
            note_step(message="paged"),
        ]
        services.create_automation(**definition)
        incident = incidents.create_incident(title="X", severity="critical", system_ids=["db"])
        with running_qcluster(tmp_path / "killed.log") as cluster:
            # The cluster dispatches the trigger event (its task was enqueued at the write's
            # COMMIT) and, in the same task (CHECKSTACK_ONE_HOP), executes the new run.
            receiver.wait_for(1, timeout=30)  # its webhook step is in flight
            os.killpg(cluster.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            cluster.wait(timeout=10)
        run = AutomationRun.objects.get()
        assert run.status == "running"

        with running_qcluster(tmp_path / "new.log"):
            receiver.wait_for(2, timeout=RECOVERY_BOUND - (time.monotonic() - killed_at))
            assert wait_for(lambda: AutomationRun.objects.get().status == "success", 5)
        resumed = receiver.arrivals[1] - killed_at
    print(f"kill -> step sent again {resumed:.2f} s")
    assert resumed < RECOVERY_BOUND
    assert list(
        IncidentUpdate.objects.filter(incident=incident).values_list("message", flat=True)
    ) == ["paged"]
    assert list(run.steps.order_by("position").values_list("step_id", "attempts")) == [
        ("page", 2),
        ("note", 1),
    ]
    connection.close()
