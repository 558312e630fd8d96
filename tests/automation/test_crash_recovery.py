"""Crash recovery (operations.md "Crash recovery"): claims on in-flight work last ``LEASE``
seconds and are renewed while the work runs; each worker's recovery watch hands back what a
dead worker left once its claim lapsed."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from checkstack.automation import queueing, runs, schedules, services, webhooks
from checkstack.automation.models import AutomationRun, WebhookDelivery, WebhookDeliveryStatus
from checkstack.automation.webhooks import attempt
from checkstack.automation.webhooks.attempt import LOST_ERROR
from checkstack.entities.delivery import sweep_inline
from incidents import services as incidents
from tests.automation.helpers import critical_incident_definition, note_step
from tests.automation.receiver import WebhookReceiver
from tests.automation.webhook_helpers import make_event
from tests.incidents.helpers import make_systems

pytestmark = pytest.mark.django_db

Status = WebhookDeliveryStatus
WEBHOOK_TASK = "checkstack.automation.tasks.send_webhook"
RUN_TASK = "checkstack.automation.tasks.execute_run"


@pytest.fixture
def enqueued(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    jobs: list[Any] = []
    settings.CHECKSTACK_ENQUEUE = True
    monkeypatch.setattr("checkstack.entities.outbox.enqueue_tasks", jobs.extend)
    return jobs


def _leave_sending(delivery_id: int, *, attempts: int = 1, expired: bool = True) -> None:
    """What a worker killed mid-POST leaves: ``sending``, its claim lapsed (or not yet)."""
    claimed_until = timezone.now() + dt.timedelta(seconds=-1 if expired else 5)
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=Status.SENDING, attempts=attempts, claimed_until=claimed_until
    )


def test_defaults_bound_the_recovery_well_under_20_seconds():
    from checkstack.automation.conf import app_settings

    assert app_settings.LEASE == 5.0
    assert app_settings.RECOVERY_INTERVAL == 2.0
    assert webhooks.policy.claim_seconds() == app_settings.LEASE
    # The lease lapses at most LEASE after the crash; a watch looks within an interval.
    assert app_settings.LEASE + app_settings.RECOVERY_INTERVAL < 20


# -- webhook deliveries -----------------------------------------------------------------------


def test_the_watch_hands_back_a_lapsed_delivery_once_recording_the_lost_attempt(
    enqueued: list[Any],
):
    with WebhookReceiver() as receiver:
        webhooks.create_endpoint(url=receiver.url)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        _leave_sending(delivery_id)
        enqueued.clear()

        assert schedules.recover() == {"webhook_lost_deliveries": 1, "runs_taken_over": 0}
        assert enqueued == [(WEBHOOK_TASK, delivery_id)]
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.claimed_until) == (
            Status.PENDING,
            1,
            None,
        )
        assert list(delivery.attempt_log.values_list("number", "outcome", "error")) == [
            (1, "retry", LOST_ERROR)
        ]
        assert schedules.recover()["webhook_lost_deliveries"] == 0  # not enqueued twice

        assert webhooks.send_delivery(delivery_id) == "success"
        (request,) = receiver.requests
    delivery.refresh_from_db()
    assert request.headers["webhook-id"] == delivery.message_id
    assert (delivery.status, delivery.attempts) == (Status.SUCCESS, 2)


def test_a_claim_within_its_lease_is_left_to_its_worker(enqueued: list[Any]):
    webhooks.create_endpoint(url="https://a.example.com/")
    (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
    _leave_sending(delivery_id, expired=False)
    enqueued.clear()
    assert webhooks.recover_lost() == []
    assert enqueued == []
    assert WebhookDelivery.objects.get().status == Status.SENDING


def test_a_handed_back_delivery_still_holds_back_the_later_ones_of_its_incident(
    enqueued: list[Any],
):
    with WebhookReceiver() as receiver:
        webhooks.create_endpoint(url=receiver.url)
        (first,) = webhooks.create_deliveries_for_event(make_event("incident.created"))
        (second,) = webhooks.create_deliveries_for_event(make_event("incident.updated"))
        _leave_sending(first)
        assert webhooks.recover_lost() == [first]
        assert webhooks.send_delivery(second) == "blocked"
        assert webhooks.send_delivery(first) == "success"  # and the next in line with it
        events = [r.json()["type"] for r in receiver.wait_for(2)]
    assert events == ["incident.created", "incident.updated"]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {Status.SUCCESS}


def test_a_lost_extra_attempt_fails_the_delivery_and_hands_over_to_the_next(
    enqueued: list[Any],
):
    webhooks.create_endpoint(url="https://a.example.com/")
    (first,) = webhooks.create_deliveries_for_event(make_event("incident.created"))
    (second,) = webhooks.create_deliveries_for_event(make_event("incident.updated"))
    _leave_sending(first, attempts=7)  # max_attempts 6: the extra attempt was lost too
    assert webhooks.recover_lost() == [second]
    delivery = WebhookDelivery.objects.get(pk=first)
    assert (delivery.status, delivery.last_error) == (Status.FAILED, LOST_ERROR)
    assert list(delivery.attempt_log.values_list("number", "outcome")) == [(7, "failed")]


def test_the_sweeper_hands_back_lapsed_deliveries_too(enqueued: list[Any]):
    webhooks.create_endpoint(url="https://a.example.com/")
    (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
    _leave_sending(delivery_id)
    enqueued.clear()
    assert webhooks.sweep() == {"webhook_deliveries": 0, "webhook_lost_deliveries": 1}
    assert enqueued == [(WEBHOOK_TASK, delivery_id)]


@pytest.mark.django_db(transaction=True)
def test_a_post_longer_than_the_lease_keeps_its_claim_renewed(
    settings: Any, monkeypatch: pytest.MonkeyPatch
):
    settings.CHECKSTACK_LEASE_SECONDS = 0.6  # renewed every 0.2 s
    renewals: list[tuple[bool, dt.datetime | None]] = []
    renew = attempt._renew

    def spy(claimed: WebhookDelivery) -> bool:
        renewed = renew(claimed)
        until = WebhookDelivery.objects.values_list("claimed_until", flat=True).get()
        renewals.append((renewed, until))
        return renewed

    monkeypatch.setattr(attempt, "_renew", spy)
    with WebhookReceiver(delay=1.0) as receiver:
        webhooks.create_endpoint(url=receiver.url)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        started = timezone.now()
        assert webhooks.send_delivery(delivery_id) == "success"
        assert len(receiver.requests) == 1
    assert len(renewals) >= 3
    assert all(renewed for renewed, _ in renewals)
    last = renewals[-1][1]
    assert last is not None and last > started + dt.timedelta(seconds=1.0)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Status.SUCCESS, 1)


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_claim_was_taken_over_records_nothing(
    settings: Any, monkeypatch: pytest.MonkeyPatch
):
    settings.CHECKSTACK_LEASE_SECONDS = 0.3
    monkeypatch.setattr(attempt, "_renew", lambda claimed: False)  # the heartbeat stalls
    with WebhookReceiver(delay=1.0) as slow:
        webhooks.create_endpoint(url=slow.url)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        outcome: list[str] = []
        worker = threading.Thread(
            target=lambda: (outcome.append(webhooks.send_delivery(delivery_id)), connection.close())
        )
        worker.start()
        slow.wait_for(1)
        time.sleep(0.4)  # the claim lapsed
        assert webhooks.recover_lost() == [delivery_id]
        slow.delay = 0.0
        assert webhooks.send_delivery(delivery_id) == "success"
        worker.join(10)
    assert outcome == ["stale"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Status.SUCCESS, 2)
    # One record per attempt: the overtaken one as lost, the second as sent.
    assert list(delivery.attempt_log.order_by("number").values_list("number", "outcome")) == [
        (1, "retry"),
        (2, "success"),
    ]


# -- the heartbeat and the watch --------------------------------------------------------------


def test_the_heartbeat_stops_once_the_claim_was_taken_over(settings: Any):
    settings.CHECKSTACK_LEASE_SECONDS = 0.15
    calls: list[float] = []

    def renew() -> bool:
        calls.append(time.monotonic())
        return False

    with queueing.renewing(renew, name="test"):
        time.sleep(0.4)
    assert len(calls) == 1


def test_the_heartbeat_keeps_trying_through_database_errors(settings: Any):
    settings.CHECKSTACK_LEASE_SECONDS = 0.15
    calls: list[int] = []

    def renew() -> bool:
        calls.append(1)
        raise DatabaseError("connection lost")

    with queueing.renewing(renew, name="test"):
        time.sleep(0.4)
    assert len(calls) >= 3


def test_a_quick_block_renews_nothing(settings: Any):
    calls: list[int] = []
    with queueing.renewing(lambda: bool(calls.append(1)), name="test"):
        pass
    assert calls == []


def test_the_watch_looks_every_interval_until_stopped(monkeypatch: pytest.MonkeyPatch):
    stopped = threading.Event()
    looks: list[float] = []

    def recover() -> dict[str, int]:
        looks.append(time.monotonic())
        if len(looks) == 3:
            stopped.set()
        if len(looks) == 2:
            raise DatabaseError("down")  # logged; the watch goes on
        return {}

    monkeypatch.setattr(schedules, "recover", recover)
    thread = threading.Thread(target=schedules.watch, args=(0.05, stopped))
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    assert len(looks) == 3


def test_a_spawned_worker_starts_the_watch_once_unless_it_is_off(
    settings: Any, monkeypatch: pytest.MonkeyPatch
):
    from django_q.signals import post_spawn

    started: list[tuple[Any, ...]] = []
    monkeypatch.setattr(schedules, "watch", lambda *args: started.append(args))
    monkeypatch.setattr(schedules.multiprocessing, "parent_process", lambda: object())
    monkeypatch.setattr(schedules, "_watching", None)
    post_spawn.send(sender="django_q", proc_name="Process-1:1")
    post_spawn.send(sender="django_q", proc_name="Process-1:1")  # once per process
    monkeypatch.setattr(schedules, "_watching", None)
    settings.CHECKSTACK_RECOVERY_INTERVAL = 0
    post_spawn.send(sender="django_q", proc_name="Process-1:2")
    time.sleep(0.2)
    assert [interval for interval, _ in started] == [2.0]


def test_a_task_run_in_the_calling_process_starts_no_watch(monkeypatch: pytest.MonkeyPatch):
    """django-q2's sync mode sends post_spawn in the caller (a web process, a test): a watch
    left running there kept using the test database ("database table is locked")."""
    from django_q.tasks import async_task

    monkeypatch.setattr(schedules, "_watching", None)
    before = {t.ident for t in threading.enumerate()}

    async_task("math.floor", 1.5, sync=True)

    new = [t.name for t in threading.enumerate() if t.ident not in before]
    assert not [name for name in new if name.startswith("automation-recovery")]


# -- runs -------------------------------------------------------------------------------------


def _pending_run(**definition: Any) -> AutomationRun:
    make_systems("db")
    services.create_automation(**{**critical_incident_definition(), **definition})
    incidents.create_incident(title="X", severity="critical", system_ids=["db"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("checkstack.entities.outbox.enqueue_tasks", lambda jobs: None)
        sweep_inline()
    return AutomationRun.objects.get()


def test_a_running_run_without_progress_for_a_lease_is_taken_over_once(
    isolated_registries: None, enqueued: list[Any]
):
    run = _pending_run()
    with transaction.atomic():  # a worker claimed the step, then died
        runs.engine.claim_step(runs.engine.lock_run(run.pk))  # type: ignore[arg-type]
    assert runs.recover_stalled() == []  # within its lease
    later = timezone.now() + dt.timedelta(seconds=6)
    assert runs.recover_stalled(now=later) == [str(run.pk)]
    assert enqueued == [(RUN_TASK, str(run.pk))]
    assert runs.recover_stalled(now=later + dt.timedelta(seconds=1)) == []  # queued already
    assert runs.execute_run(run.pk) == "success"
    assert run.steps.get().attempts == 2


def test_a_pending_run_is_left_to_the_sweeper(isolated_registries: None, enqueued: list[Any]):
    _pending_run()
    assert runs.recover_stalled(now=timezone.now() + dt.timedelta(minutes=5)) == []


@pytest.mark.django_db(transaction=True)
def test_a_webhook_step_longer_than_the_lease_renews_the_run(
    isolated_registries: None, settings: Any, monkeypatch: pytest.MonkeyPatch
):
    settings.CHECKSTACK_LEASE_SECONDS = 0.6
    renewals: list[bool] = []
    renew = runs.engine._renew
    monkeypatch.setattr(
        runs.engine, "_renew", lambda *args: renewals.append(renew(*args)) or renewals[-1]
    )
    with WebhookReceiver(delay=1.0) as receiver:
        run = _pending_run(
            steps=[
                {"id": "page", "action": "webhook.send", "config": {"url": receiver.url}},
                note_step(),
            ]
        )
        assert runs.execute_run(run.pk) == "success"
        assert len(receiver.requests) == 1
    assert len(renewals) >= 3 and all(renewals)
    assert list(run.steps.order_by("position").values_list("attempts", flat=True)) == [1, 1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_holds_its_row_lock_is_not_taken_over(
    isolated_registries: None, enqueued: list[Any]
):
    run = _pending_run()
    with transaction.atomic():
        runs.engine.claim_step(runs.engine.lock_run(run.pk))  # type: ignore[arg-type]
    locked, release = threading.Event(), threading.Event()

    def live_step() -> None:
        try:
            with transaction.atomic():
                assert runs.engine.lock_run(run.pk) is not None
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    worker = threading.Thread(target=live_step)
    worker.start()
    try:
        assert locked.wait(10)
        later = timezone.now() + dt.timedelta(seconds=6)
        assert runs.recover_stalled(now=later) == []
    finally:
        release.set()
        worker.join(10)
    assert runs.recover_stalled(now=later) == [str(run.pk)]
