"""Webhook workers on PostgreSQL with real threads: one claim per attempt, no lock held
during the POST, per-incident order across workers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from checkstack.automation import webhooks
from checkstack.automation.models import WebhookDelivery
from checkstack.errors import Conflict
from tests.automation.receiver import WebhookReceiver
from tests.automation.webhook_helpers import make_event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

JOIN_TIMEOUT = 30.0


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(n)`` in ``count`` threads started together; their results (or errors)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(n: int) -> None:
        try:
            barrier.wait()
            results[n] = work(n)
        except Exception as exc:  # reported to the test
            results[n] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
        assert not thread.is_alive()
    return results


def test_concurrent_workers_send_a_delivery_once():
    with WebhookReceiver() as receiver:
        webhooks.create_endpoint(url=receiver.url)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        outcomes = in_threads(6, lambda n: webhooks.send_delivery(delivery_id))
        receiver.wait_for(1)
        assert len(receiver.requests) == 1
    assert sorted(outcomes).count("success") == 1
    assert set(outcomes) <= {"success", "busy", "skipped"}
    assert WebhookDelivery.objects.get().attempts == 1


def test_no_lock_is_held_while_the_post_is_in_flight():
    with WebhookReceiver(delay=1.0) as receiver:
        endpoint = webhooks.create_endpoint(url=receiver.url)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        worker = threading.Thread(
            target=lambda: (webhooks.send_delivery(delivery_id), connection.close())
        )
        worker.start()
        try:
            receiver.wait_for(1)  # the POST is in flight
            # Neither call waits for the worker: the delivery and endpoint rows are not locked.
            with pytest.raises(Conflict):
                webhooks.redeliver(delivery_id)
            webhooks.update_endpoint(str(endpoint.pk), description="edited mid-send")
            assert WebhookDelivery.objects.get().status == "sending"
        finally:
            worker.join(JOIN_TIMEOUT)
    assert WebhookDelivery.objects.get().status == "success"


def test_workers_racing_over_many_deliveries_keep_each_incident_in_order():
    incidents = [f"inc-{n}" for n in range(4)]
    events = ("incident.created", "incident.updated", "incident.updated", "incident.resolved")
    with WebhookReceiver() as receiver:
        webhooks.create_endpoint(url=receiver.url)
        for event in events:
            for incident in incidents:
                webhooks.create_deliveries_for_event(make_event(event, incident_id=incident))
        ids = list(WebhookDelivery.objects.order_by("id").values_list("id", flat=True))

        def worker(n: int) -> None:
            for delivery_id in ids[n::2] + ids:  # every worker tries every delivery
                webhooks.send_delivery(delivery_id)

        results = in_threads(4, worker)
        assert [r for r in results if r is not None] == []
        webhooks.deliver_due_inline()  # anything a worker found blocked at its turn
        requests = receiver.wait_for(len(ids))
        assert len(receiver.requests) == len(ids)
    by_message = {d.message_id: d for d in WebhookDelivery.objects.all()}
    assert {d.status for d in by_message.values()} == {"success"}
    for incident in incidents:
        sent = [
            by_message[r.headers["webhook-id"]].pk
            for r in requests
            if by_message[r.headers["webhook-id"]].ordering_key == incident
        ]
        assert sent == sorted(sent) and len(sent) == len(events)
