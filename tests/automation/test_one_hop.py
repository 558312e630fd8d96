"""The dispatcher's hand-off (``queueing.handing_off``, ``CHECKSTACK_ONE_HOP``): after the
dispatch's COMMIT the dispatching process executes the first run or webhook delivery it created
itself and enqueues only the others, in one batch; a failure or a crash before the claim leaves
a pending row for the sweepers."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from checkstack.automation import webhooks
from checkstack.automation.models import WebhookDelivery, WebhookDeliveryStatus
from checkstack.automation.queueing import WEBHOOK_TASK
from checkstack.entities import context, delivery, tasks
from tests.automation.receiver import WebhookReceiver
from tests.automation.webhook_helpers import make_event

pytestmark = pytest.mark.django_db

Status = WebhookDeliveryStatus


@pytest.fixture
def enqueued(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Enqueueing on, into this list instead of django-q2."""
    settings.CHECKSTACK_ENQUEUE = True
    jobs: list[Any] = []
    monkeypatch.setattr("checkstack.entities.outbox.enqueue_tasks", jobs.extend)
    return jobs


def dispatch(django_capture_on_commit_callbacks: Any) -> list[int]:
    event = make_event()
    # As the worker's task dispatches it (``tasks.dispatch_trigger_event``).
    with context.worker_task(), django_capture_on_commit_callbacks(execute=True):
        assert delivery.dispatch_trigger_event(event.pk)
    return list(
        WebhookDelivery.objects.filter(trigger_event_id=event.pk)
        .order_by("id")
        .values_list("id", flat=True)
    )


def test_the_dispatching_process_sends_the_first_delivery_and_enqueues_the_others(
    enqueued: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with WebhookReceiver() as receiver:
        webhooks.create_endpoint(url=receiver.url)
        webhooks.create_endpoint(url=receiver.url + "second")
        first, second = dispatch(django_capture_on_commit_callbacks)
        assert len(receiver.requests) == 1

    assert WebhookDelivery.objects.get(pk=first).status == Status.SUCCESS
    assert WebhookDelivery.objects.get(pk=second).status == Status.PENDING
    assert enqueued == [(WEBHOOK_TASK, second)]  # the first has no task of its own


def test_with_one_hop_off_every_delivery_is_enqueued_and_none_sent(
    enqueued: list[Any], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CHECKSTACK_ONE_HOP = False
    webhooks.create_endpoint(url="https://a.example.com/")
    webhooks.create_endpoint(url="https://b.example.com/")

    ids = dispatch(django_capture_on_commit_callbacks)

    assert enqueued == [(WEBHOOK_TASK, ids[0]), (WEBHOOK_TASK, ids[1])]  # one batch
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {Status.PENDING}


def test_nothing_is_executed_or_enqueued_when_enqueueing_is_off(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueued: list[Any] = []
    monkeypatch.setattr("checkstack.entities.outbox.enqueue_tasks", enqueued.extend)
    webhooks.create_endpoint(url="https://a.example.com/")

    dispatch(django_capture_on_commit_callbacks)

    assert enqueued == []
    assert WebhookDelivery.objects.get().status == Status.PENDING


def test_a_failed_execution_after_the_commit_leaves_a_pending_delivery_for_the_sweeper(
    enqueued: list[Any],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """As a worker that died between the dispatch's COMMIT and the claim."""

    def broken(delivery_id: int) -> str:
        raise RuntimeError("the worker stopped")

    monkeypatch.setattr("checkstack.automation.tasks.send_webhook", broken)
    webhooks.create_endpoint(url="https://a.example.com/")
    with caplog.at_level(logging.ERROR, logger="checkstack.automation"):
        (delivery_id,) = dispatch(django_capture_on_commit_callbacks)

    assert "after its dispatch failed" in caplog.text
    assert enqueued == []
    assert WebhookDelivery.objects.get().status == Status.PENDING
    settings.CHECKSTACK_SWEEP_GRACE = 0
    webhooks.sweep()
    assert enqueued == [(WEBHOOK_TASK, delivery_id)]


def test_a_dispatch_that_raises_hands_nothing_off(
    enqueued: list[Any], monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    webhooks.create_endpoint(url="https://a.example.com/")

    def broken(event: Any) -> None:
        raise RuntimeError("resume failed")

    monkeypatch.setattr("checkstack.automation.runs.resume_waiting_runs", broken)
    event = make_event()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        delivery.dispatch_trigger_event(event.pk)

    assert enqueued == []


def test_a_dispatch_outside_a_worker_task_only_enqueues(
    enqueued: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    """An inline sweep (``entities_sweep --inline``, tests) or a web process: nothing is sent
    in that process; every delivery gets its task, as before the one hop."""
    with WebhookReceiver() as receiver:
        webhooks.create_endpoint(url=receiver.url)
        webhooks.create_endpoint(url=receiver.url + "second")
        event = make_event()
        with django_capture_on_commit_callbacks(execute=True):
            assert delivery.dispatch_trigger_event(event.pk)
        assert receiver.requests == []

    ids = WebhookDelivery.objects.filter(trigger_event_id=event.pk).values_list("id", flat=True)
    assert sorted(arg for _, arg in enqueued) == sorted(ids)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {Status.PENDING}


def test_the_worker_tasks_mark_their_context() -> None:
    seen: list[bool] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "checkstack.entities.delivery.dispatch_trigger_event",
            lambda event_id: seen.append(context.in_worker_task()) or True,
        )
        patch.setattr("checkstack.entities.delivery.drain", lambda seconds: 0)
        tasks.dispatch_trigger_event("x")
    assert seen == [True]
    assert context.in_worker_task() is False
