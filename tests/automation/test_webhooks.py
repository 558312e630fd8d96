"""Webhooks (automation.md "Webhooks"): endpoints, deliveries, retries, ordering, sweeping."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from checkstack.automation import webhooks
from checkstack.automation.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from checkstack.errors import Conflict, NotFound
from tests.automation.receiver import WebhookReceiver
from tests.automation.webhook_helpers import make_due, make_event

pytestmark = pytest.mark.django_db

Status = WebhookDeliveryStatus


def endpoint_for(receiver: WebhookReceiver, **fields: Any) -> WebhookEndpoint:
    return webhooks.create_endpoint(url=receiver.url, **fields)


def deliver_all() -> int:
    """Send until nothing is due, moving each retry's backoff into the past."""
    attempts = 0
    while True:
        made = webhooks.deliver_due_inline()
        attempts += made
        if not made and not make_due():
            return attempts


# -- endpoints --------------------------------------------------------------------------------


def test_creating_an_endpoint_generates_a_standard_webhooks_secret_and_defaults_to_all_events():
    endpoint = webhooks.create_endpoint(url="https://hooks.example.com/in")
    assert endpoint.secret.startswith("whsec_")
    assert len(endpoint.secret) > len("whsec_") + 32
    assert endpoint.events == ["*"]
    assert endpoint.enabled is True
    other = webhooks.create_endpoint(url="https://hooks.example.com/in")
    assert other.secret != endpoint.secret


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"url": ""}, "url", "blank"),
        ({"url": "ftp://example.com/x"}, "url", "http:// or https://"),
        ({"url": "https://user:pw@example.com/x"}, "url", "Credentials"),
        ({"url": "https:///path-only"}, "url", "no host"),
        ({"url": "https://example.com/" + "a" * 2000}, "url", "2000"),
        ({"url": "https://example.com/\x00"}, "url", "Null"),
        ({"url": "https://example.com:99999/"}, "url", "Not a valid URL"),
        ({"events": ["incident.exploded"]}, "events", "not a registered trigger"),
        ({"events": []}, "events", "at least one"),
        ({"events": "incident.created"}, "events", "list"),
        ({"system_ids": "db"}, "system_ids", "list"),
        ({"system_ids": [1]}, "system_ids", "list"),
        ({"description": "a\x00b"}, "description", "Null"),
        ({"enabled": "yes"}, "enabled", "true or false"),
    ],
)
def test_an_invalid_endpoint_is_refused_with_a_clear_message_and_nothing_is_saved(
    fields: dict[str, Any], field: str, message: str
):
    with pytest.raises(ValidationError) as exc:
        webhooks.create_endpoint(**{"url": "https://hooks.example.com/in", **fields})
    assert message in " ".join(exc.value.message_dict[field])
    assert not WebhookEndpoint.objects.exists()


def test_endpoint_events_must_be_registered_triggers_or_the_wildcard():
    endpoint = webhooks.create_endpoint(
        url="https://hooks.example.com/in", events=["incident.created", "catalog.deleted"]
    )
    assert endpoint.events == ["incident.created", "catalog.deleted"]


def test_enabling_a_disabled_endpoint_again_clears_its_failure_record():
    endpoint = webhooks.create_endpoint(url="https://hooks.example.com/in")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False,
        consecutive_failures=20,
        disabled_at=timezone.now(),
        disabled_reason="Disabled after 20 consecutive failed deliveries",
    )
    updated = webhooks.update_endpoint(str(endpoint.pk), enabled=True)
    assert (updated.enabled, updated.consecutive_failures) == (True, 0)
    assert updated.disabled_at is None and updated.disabled_reason == ""


def test_an_invalid_update_changes_nothing():
    endpoint = webhooks.create_endpoint(url="https://hooks.example.com/in", description="old")
    with pytest.raises(ValidationError):
        webhooks.update_endpoint(str(endpoint.pk), description="new", events=["nope.nope"])
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.events) == ("old", ["*"])


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "", "00000000-0000-0000-0000-000000000000"])
def test_unknown_or_malformed_endpoint_ids_are_not_found(bad_id: str):
    with pytest.raises(NotFound):
        webhooks.get_endpoint(bad_id)
    with pytest.raises(NotFound):
        webhooks.update_endpoint(bad_id, description="x")
    with pytest.raises(NotFound):
        webhooks.delete_endpoint(bad_id)
    with pytest.raises(NotFound):
        webhooks.list_deliveries(bad_id)
    with pytest.raises(NotFound):
        webhooks.ping(bad_id)


@pytest.mark.parametrize("bad_id", ["abc", True, -1, 0, 2**70, None, "999999"])
def test_unknown_or_malformed_delivery_ids_are_not_found(bad_id: Any):
    with pytest.raises(NotFound):
        webhooks.get_delivery(bad_id)
    with pytest.raises(NotFound):
        webhooks.redeliver(bad_id)


def test_deleting_an_endpoint_deletes_its_deliveries():
    endpoint = webhooks.create_endpoint(url="https://hooks.example.com/in")
    webhooks.create_deliveries_for_event(make_event())
    webhooks.delete_endpoint(str(endpoint.pk))
    assert not WebhookDelivery.objects.exists()


# -- creating deliveries ----------------------------------------------------------------------


def test_a_trigger_event_creates_one_delivery_per_subscribed_enabled_endpoint():
    everything = webhooks.create_endpoint(url="https://a.example.com/")
    created_only = webhooks.create_endpoint(
        url="https://b.example.com/", events=["incident.created"]
    )
    resolved_only = webhooks.create_endpoint(
        url="https://c.example.com/", events=["incident.resolved"]
    )
    db_only = webhooks.create_endpoint(url="https://d.example.com/", system_ids=["db"])
    web_only = webhooks.create_endpoint(url="https://e.example.com/", system_ids=["web"])
    disabled = webhooks.create_endpoint(url="https://f.example.com/", enabled=False)

    event = make_event(system_ids=["db", "api"])
    ids = webhooks.create_deliveries_for_event(event)

    deliveries = WebhookDelivery.objects.filter(pk__in=ids)
    assert {d.endpoint_id for d in deliveries} == {everything.pk, created_only.pk, db_only.pk}
    assert {resolved_only.pk, web_only.pk, disabled.pk}.isdisjoint(
        WebhookDelivery.objects.values_list("endpoint_id", flat=True)
    )
    for delivery in deliveries:
        assert delivery.trigger_event_id == event.pk
        assert delivery.event_type == "incident.created"
        assert delivery.data == event.payload
        assert delivery.ordering_key == "inc-1"
        assert delivery.status == Status.PENDING
        assert delivery.message_id.startswith("msg_")


def test_a_system_filter_matches_catalog_events_by_their_system_id():
    endpoint = webhooks.create_endpoint(url="https://a.example.com/", system_ids=["db"])
    from checkstack.entities.models import TriggerEvent

    event = make_event("catalog.updated", incident_id="db")
    TriggerEvent.objects.filter(pk=event.pk).update(payload={"systemId": "db"})
    event.refresh_from_db()
    other = make_event("catalog.updated", incident_id="web")
    TriggerEvent.objects.filter(pk=other.pk).update(payload={"systemId": "web"})
    other.refresh_from_db()

    assert len(webhooks.create_deliveries_for_event(event)) == 1
    assert webhooks.create_deliveries_for_event(other) == []
    assert WebhookDelivery.objects.get().endpoint_id == endpoint.pk


def test_dispatching_an_event_again_creates_no_second_delivery_and_keeps_the_transaction_usable():
    webhooks.create_endpoint(url="https://a.example.com/")
    event = make_event()
    with transaction.atomic():
        first = webhooks.create_deliveries_for_event(event)
        again = webhooks.create_deliveries_for_event(event)
        assert WebhookDelivery.objects.count() == 1  # the transaction still works
    assert len(first) == 1
    assert again == []


def test_creating_deliveries_takes_the_same_number_of_queries_for_many_endpoints(
    django_assert_num_queries: Any,
):
    webhooks.create_endpoint(url="https://a.example.com/")
    one, two = make_event(incident_id="one"), make_event(incident_id="two")
    with django_assert_num_queries(3):
        webhooks.create_deliveries_for_event(one)
    for n in range(10):
        webhooks.create_endpoint(url=f"https://{n}.example.com/")
    with django_assert_num_queries(3):
        assert len(webhooks.create_deliveries_for_event(two)) == 11


def test_new_deliveries_are_enqueued_after_commit(
    settings: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
):
    settings.CHECKSTACK_ENQUEUE = True
    enqueued: list[Any] = []
    monkeypatch.setattr("checkstack.entities.outbox.enqueue_tasks", enqueued.extend)
    webhooks.create_endpoint(url="https://a.example.com/")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ids = webhooks.create_deliveries_for_event(make_event())
    assert enqueued == []
    for callback in callbacks:
        callback()
    assert enqueued == [("checkstack.automation.tasks.send_webhook", ids[0])]


def test_nothing_is_enqueued_when_enqueueing_is_off(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
):
    enqueued: list[Any] = []
    monkeypatch.setattr("checkstack.entities.outbox.enqueue_tasks", enqueued.extend)
    webhooks.create_endpoint(url="https://a.example.com/")
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.create_deliveries_for_event(make_event())
    assert enqueued == []


# -- sending ----------------------------------------------------------------------------------


def test_two_500s_then_200_make_one_delivery_of_three_attempts_with_one_webhook_id_and_signature():
    with WebhookReceiver(statuses=[500, 500, 200]) as receiver:
        endpoint = endpoint_for(receiver)
        event = make_event()
        (delivery_id,) = webhooks.create_deliveries_for_event(event)

        assert webhooks.send_delivery(delivery_id) == "retry"
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        assert delivery.status == Status.PENDING
        assert delivery.attempts == 1
        assert webhooks.deliver_due_inline() == 0  # the retry waits for its backoff
        assert deliver_all() == 2
        requests = receiver.wait_for(3)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.SUCCESS,
        3,
        200,
    )
    assert delivery.finished_at is not None
    attempts = list(delivery.attempt_log.order_by("number"))
    assert [(a.number, a.status_code, a.outcome) for a in attempts] == [
        (1, 500, "retry"),
        (2, 500, "retry"),
        (3, 200, "success"),
    ]
    assert attempts[2].response_excerpt == "ok"
    assert {r.headers["webhook-id"] for r in requests} == {delivery.message_id}
    for request in requests:
        assert request.method == "POST" and request.path == "/hook"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("Checkstack")
        verified = Webhook(endpoint.secret).verify(request.body, request.headers)
        assert verified == {
            "id": delivery.message_id,
            "type": "incident.created",
            "timestamp": event.created_at.astimezone(dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "data": event.payload,
        }
    assert len({r.body for r in requests}) == 1  # the same bytes on every attempt


def test_a_tampered_body_does_not_verify():
    from standardwebhooks.webhooks import WebhookVerificationError

    with WebhookReceiver() as receiver:
        endpoint = endpoint_for(receiver)
        webhooks.create_deliveries_for_event(make_event())
        webhooks.deliver_due_inline()
        (request,) = receiver.wait_for(1)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(
            request.body.replace(b"critical", b"minor"), request.headers
        )


def test_retries_back_off_fourfold_from_the_base(settings: Any):
    settings.CHECKSTACK_WEBHOOK_RETRY_BASE = 100
    with WebhookReceiver(default_status=503) as receiver:
        endpoint_for(receiver)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        delays = []
        for _ in range(3):
            before = timezone.now()
            assert webhooks.send_delivery(delivery_id) == "retry"
            due = WebhookDelivery.objects.get(pk=delivery_id).next_attempt_at
            delays.append((due - before).total_seconds())
            make_due()
    for delay, base in zip(delays, (100, 400, 1600), strict=True):
        assert 0.8 * base - 1 <= delay <= 1.2 * base + 1


def test_a_410_is_a_permanent_failure_after_one_attempt():
    with WebhookReceiver(statuses=[410]) as receiver:
        endpoint = endpoint_for(receiver)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        assert webhooks.send_delivery(delivery_id) == "failed"
        make_due()
        assert webhooks.deliver_due_inline() == 0
        assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.FAILED,
        1,
        410,
    )
    assert delivery.last_error == "HTTP 410"
    assert [a.outcome for a in delivery.attempt_log.all()] == ["failed"]
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1


def test_a_redirect_is_not_followed_and_fails_the_delivery():
    with WebhookReceiver(statuses=[302]) as receiver:
        endpoint_for(receiver)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        assert webhooks.send_delivery(delivery_id) == "failed"
        assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_timeouts_rate_limits_and_server_errors_are_retried(status: int):
    with WebhookReceiver(statuses=[status]) as receiver:
        endpoint_for(receiver)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        assert webhooks.send_delivery(delivery_id) == "retry"
        assert deliver_all() == 1
    assert WebhookDelivery.objects.get().status == Status.SUCCESS


def test_a_connection_error_is_retried_with_the_error_stored():
    with WebhookReceiver() as receiver:
        url = receiver.url
    webhooks.create_endpoint(url=url)  # nothing listens there any more
    (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
    assert webhooks.send_delivery(delivery_id) == "retry"
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert "Connection failed" in attempt.error
    assert WebhookDelivery.objects.get().last_error == attempt.error


def test_a_slow_endpoint_times_out_and_is_retried(settings: Any):
    settings.CHECKSTACK_WEBHOOK_TIMEOUT = 0.3
    with WebhookReceiver(delay=1.5) as receiver:
        endpoint_for(receiver)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        assert webhooks.send_delivery(delivery_id) == "retry"
    assert "Timed out" in WebhookAttempt.objects.get().error


def test_a_delivery_fails_after_its_last_attempt(settings: Any):
    settings.CHECKSTACK_WEBHOOK_MAX_ATTEMPTS = 3
    with WebhookReceiver(default_status=500) as receiver:
        endpoint_for(receiver)
        webhooks.create_deliveries_for_event(make_event())
        assert deliver_all() == 3
        assert len(receiver.requests) == 3
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Status.FAILED, 3)
    assert [a.outcome for a in delivery.attempt_log.order_by("number")] == [
        "retry",
        "retry",
        "failed",
    ]


def test_an_endpoint_is_disabled_after_20_consecutive_failed_deliveries(
    settings: Any, caplog: pytest.LogCaptureFixture
):
    settings.CHECKSTACK_WEBHOOK_MAX_ATTEMPTS = 1
    caplog.set_level(logging.WARNING, logger="checkstack.automation.webhooks")
    with WebhookReceiver(default_status=500) as receiver:
        endpoint = endpoint_for(receiver)
        for n in range(19):
            webhooks.create_deliveries_for_event(make_event(incident_id=f"inc-{n}"))
        assert webhooks.deliver_due_inline() == 19
        endpoint.refresh_from_db()
        assert (endpoint.enabled, endpoint.consecutive_failures) == (True, 19)

        webhooks.create_deliveries_for_event(make_event(incident_id="inc-19"))
        webhooks.deliver_due_inline()
        endpoint.refresh_from_db()
        assert (endpoint.enabled, endpoint.consecutive_failures) == (False, 20)
        assert endpoint.disabled_at is not None
        assert endpoint.disabled_reason == "Disabled after 20 consecutive failed deliveries"
        assert any("disabled after 20" in r.getMessage() for r in caplog.records)

        assert webhooks.create_deliveries_for_event(make_event(incident_id="later")) == []


def test_a_successful_delivery_resets_the_failure_count(settings: Any):
    settings.CHECKSTACK_WEBHOOK_MAX_ATTEMPTS = 1
    with WebhookReceiver(statuses=[500, 500, 200]) as receiver:
        endpoint = endpoint_for(receiver)
        for n in range(2):
            webhooks.create_deliveries_for_event(make_event(incident_id=f"inc-{n}"))
        webhooks.deliver_due_inline()
        endpoint.refresh_from_db()
        assert endpoint.consecutive_failures == 2
        webhooks.create_deliveries_for_event(make_event(incident_id="inc-2"))
        webhooks.deliver_due_inline()
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_pending_deliveries_of_a_disabled_endpoint_are_still_sent():
    with WebhookReceiver() as receiver:
        endpoint = endpoint_for(receiver)
        webhooks.create_deliveries_for_event(make_event())
        webhooks.update_endpoint(str(endpoint.pk), enabled=False)
        assert webhooks.deliver_due_inline() == 1
        assert len(receiver.requests) == 1


# -- ordering ---------------------------------------------------------------------------------


def test_a_later_delivery_for_the_same_incident_waits_for_the_earlier_one():
    with WebhookReceiver(statuses=[500]) as receiver:
        endpoint_for(receiver)
        (first,) = webhooks.create_deliveries_for_event(make_event("incident.created"))
        (second,) = webhooks.create_deliveries_for_event(make_event("incident.resolved"))
        (other,) = webhooks.create_deliveries_for_event(make_event(incident_id="inc-2"))

        assert webhooks.send_delivery(first) == "retry"
        assert webhooks.send_delivery(second) == "blocked"
        assert webhooks.send_delivery(other) == "success"  # another incident is not held up
        assert webhooks.deliver_due_inline() == 0
        assert WebhookDelivery.objects.get(pk=second).attempts == 0

        make_due()
        assert webhooks.deliver_due_inline() == 2
        requests = receiver.wait_for(4)
    ids = [WebhookDelivery.objects.get(pk=pk).message_id for pk in (first, other, first, second)]
    assert [r.headers["webhook-id"] for r in requests] == ids


def test_finishing_a_delivery_sends_the_next_one_in_line():
    with WebhookReceiver(statuses=[500]) as receiver:
        endpoint_for(receiver)
        (first,) = webhooks.create_deliveries_for_event(make_event("incident.created"))
        (second,) = webhooks.create_deliveries_for_event(make_event("incident.resolved"))
        webhooks.send_delivery(first)
        make_due()
        assert webhooks.send_delivery(first) == "success"
        assert len(receiver.wait_for(3)) == 3
    assert WebhookDelivery.objects.get(pk=second).status == Status.SUCCESS


def test_a_failed_delivery_does_not_hold_back_later_ones():
    with WebhookReceiver(statuses=[404]) as receiver:
        endpoint_for(receiver)
        (first,) = webhooks.create_deliveries_for_event(make_event("incident.created"))
        (second,) = webhooks.create_deliveries_for_event(make_event("incident.resolved"))
        assert webhooks.send_delivery(first) == "failed"
        receiver.wait_for(2)
    assert WebhookDelivery.objects.get(pk=second).status == Status.SUCCESS


# -- ping, redeliver --------------------------------------------------------------------------


def test_a_ping_is_sent_once_even_to_a_disabled_endpoint_and_leaves_the_failure_count_alone():
    with WebhookReceiver(statuses=[500]) as receiver:
        endpoint = endpoint_for(receiver, enabled=False)
        delivery = webhooks.ping(str(endpoint.pk))
        assert delivery.event_type == "webhook.ping"
        assert delivery.trigger_event_id is None
        assert webhooks.send_delivery(delivery.pk) == "failed"
        make_due()
        assert webhooks.deliver_due_inline() == 0
        (request,) = receiver.wait_for(1)
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == "webhook.ping"
    assert body["data"]["endpointId"] == str(endpoint.pk)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_redelivering_sends_the_same_message_again_with_a_fresh_budget(settings: Any):
    settings.CHECKSTACK_WEBHOOK_MAX_ATTEMPTS = 1
    with WebhookReceiver(statuses=[500]) as receiver:
        endpoint_for(receiver)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        assert webhooks.send_delivery(delivery_id) == "failed"

        redelivered = webhooks.redeliver(delivery_id)
        assert (redelivered.status, redelivered.max_attempts) == (Status.PENDING, 2)
        assert webhooks.deliver_due_inline() == 1
        first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Status.SUCCESS, 2)


def test_redelivering_a_delivery_that_is_being_sent_is_a_conflict():
    endpoint = webhooks.create_endpoint(url="https://a.example.com/")
    delivery = webhooks.ping(str(endpoint.pk))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, claimed_until=timezone.now() + dt.timedelta(minutes=1)
    )
    with pytest.raises(Conflict):
        webhooks.redeliver(delivery.pk)


def test_redeliver_and_ping_enqueue_after_commit(
    settings: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
):
    settings.CHECKSTACK_ENQUEUE = True
    enqueued: list[Any] = []
    monkeypatch.setattr("checkstack.entities.outbox.enqueue_tasks", enqueued.extend)
    endpoint = webhooks.create_endpoint(url="https://a.example.com/")
    with django_capture_on_commit_callbacks(execute=True):
        delivery = webhooks.ping(str(endpoint.pk))
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.redeliver(str(delivery.pk))
    assert [arg for _, arg in enqueued] == [delivery.pk, delivery.pk]


# -- lists ------------------------------------------------------------------------------------


def test_deliveries_are_listed_newest_first_with_their_attempts(django_assert_num_queries: Any):
    with WebhookReceiver(statuses=[500]) as receiver:
        endpoint = endpoint_for(receiver)
        for n in range(3):
            webhooks.create_deliveries_for_event(make_event(incident_id=f"inc-{n}"))
        deliver_all()
    with django_assert_num_queries(3):  # endpoint, deliveries, attempts
        deliveries = list(webhooks.list_deliveries(str(endpoint.pk)))
        numbers = [[a.number for a in d.attempt_log.all()] for d in deliveries]
    assert [d.pk for d in deliveries] == sorted((d.pk for d in deliveries), reverse=True)
    assert numbers == [[1], [1], [1, 2]]


# -- crashes and the sweeper ------------------------------------------------------------------


def _leave_sending(delivery_id: int, *, attempts: int = 1, expired: bool = True) -> None:
    claimed_until = timezone.now() + dt.timedelta(seconds=-1 if expired else 60)
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=Status.SENDING, attempts=attempts, claimed_until=claimed_until
    )


def test_a_delivery_left_sending_by_a_dead_worker_is_sent_again_with_the_same_webhook_id(
    settings: Any, monkeypatch: pytest.MonkeyPatch
):
    with WebhookReceiver() as receiver:
        endpoint_for(receiver)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        _leave_sending(delivery_id)

        settings.CHECKSTACK_ENQUEUE = True
        enqueued: list[Any] = []
        monkeypatch.setattr("checkstack.entities.outbox.enqueue_tasks", enqueued.extend)
        assert webhooks.sweep() == {"webhook_deliveries": 0, "webhook_lost_deliveries": 1}
        assert enqueued == [("checkstack.automation.tasks.send_webhook", delivery_id)]

        assert webhooks.deliver_due_inline() == 1
        assert webhooks.deliver_due_inline() == 0
        (request,) = receiver.wait_for(1)
    delivery = WebhookDelivery.objects.get()
    assert request.headers["webhook-id"] == delivery.message_id
    assert (delivery.status, delivery.attempts) == (Status.SUCCESS, 2)
    attempts = list(delivery.attempt_log.order_by("number"))
    assert [(a.number, a.outcome) for a in attempts] == [(1, "retry"), (2, "success")]
    assert "worker stopped" in attempts[0].error


def test_a_delivery_being_sent_within_its_claim_is_left_alone():
    with WebhookReceiver() as receiver:
        endpoint_for(receiver)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        _leave_sending(delivery_id, expired=False)
        assert webhooks.sweep()["webhook_lost_deliveries"] == 0
        assert webhooks.send_delivery(delivery_id) == "skipped"
        assert webhooks.deliver_due_inline() == 0
        assert receiver.requests == []


def test_a_lost_last_attempt_earns_exactly_one_more(settings: Any):
    settings.CHECKSTACK_WEBHOOK_MAX_ATTEMPTS = 2
    with WebhookReceiver(default_status=500) as receiver:
        endpoint_for(receiver)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        _leave_sending(delivery_id, attempts=2)
        assert webhooks.send_delivery(delivery_id) == "failed"  # the extra attempt got a 500
        assert len(receiver.requests) == 1

        webhooks.redeliver(delivery_id)
        WebhookDelivery.objects.filter(pk=delivery_id).update(max_attempts=3)
        _leave_sending(delivery_id, attempts=4)  # the extra attempt was lost too
        assert webhooks.send_delivery(delivery_id) == "failed"
        assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().status == Status.FAILED


def test_the_sweeper_re_enqueues_due_deliveries_but_leaves_fresh_and_blocked_ones(
    settings: Any, monkeypatch: pytest.MonkeyPatch
):
    settings.CHECKSTACK_ENQUEUE = True
    enqueued: list[Any] = []
    monkeypatch.setattr("checkstack.entities.outbox.enqueue_tasks", enqueued.extend)
    webhooks.create_endpoint(url="https://a.example.com/")
    (fresh,) = webhooks.create_deliveries_for_event(make_event(incident_id="fresh"))
    (old,) = webhooks.create_deliveries_for_event(make_event(incident_id="old"))
    (blocked,) = webhooks.create_deliveries_for_event(
        make_event("incident.resolved", incident_id="old")
    )
    (retrying,) = webhooks.create_deliveries_for_event(make_event(incident_id="retrying"))
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    WebhookDelivery.objects.filter(pk__in=[old, blocked]).update(next_attempt_at=long_ago)
    WebhookDelivery.objects.filter(pk=retrying).update(attempts=1)

    assert webhooks.sweep() == {"webhook_deliveries": 2, "webhook_lost_deliveries": 0}
    assert sorted(arg for _, arg in enqueued) == [old, retrying]
    assert fresh not in [arg for _, arg in enqueued]


def test_the_sweeper_finds_line_heads_behind_a_page_of_blocked_deliveries(
    settings: Any, monkeypatch: pytest.MonkeyPatch
):
    settings.CHECKSTACK_ENQUEUE = True
    settings.CHECKSTACK_SWEEP_BATCH = 2
    enqueued: list[Any] = []
    monkeypatch.setattr("checkstack.entities.outbox.enqueue_tasks", enqueued.extend)
    webhooks.create_endpoint(url="https://a.example.com/")
    # One incident's line: its first delivery waits for a retry, the next three are due.
    line = [
        webhooks.create_deliveries_for_event(make_event(event, incident_id="busy"))[0]
        for event in (
            "incident.created",
            "incident.updated",
            "incident.updated",
            "incident.resolved",
        )
    ]
    (other,) = webhooks.create_deliveries_for_event(make_event(incident_id="other"))
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    WebhookDelivery.objects.filter(pk__in=[*line[1:], other]).update(next_attempt_at=long_ago)
    WebhookDelivery.objects.filter(pk=line[0]).update(
        attempts=1, next_attempt_at=timezone.now() + dt.timedelta(minutes=5)
    )

    # The oldest due rows (two pages of the sweep's batch) are all blocked behind line[0].
    assert webhooks.sweep() == {"webhook_deliveries": 1, "webhook_lost_deliveries": 0}
    assert [arg for _, arg in enqueued] == [other]


def test_a_delivery_finished_after_the_sweep_read_it_is_not_taken_for_a_line_head() -> None:
    webhooks.create_endpoint(url="https://a.example.com/")
    (sent,) = webhooks.create_deliveries_for_event(make_event(incident_id="done-meanwhile"))
    (waiting,) = webhooks.create_deliveries_for_event(make_event(incident_id="still-due"))
    # What the sweep's page holds when a worker finishes ``sent`` between the page read and the
    # line lookup: a candidate that is no longer open.
    WebhookDelivery.objects.filter(pk=sent).update(status=WebhookDeliveryStatus.SUCCESS)

    heads = webhooks.redelivery.line_heads(WebhookDelivery.objects.all(), limit=10)

    assert heads == [waiting]


# -- secrets ----------------------------------------------------------------------------------


def test_the_secret_never_appears_in_logs_attempts_or_errors(
    settings: Any, caplog: pytest.LogCaptureFixture
):
    settings.CHECKSTACK_WEBHOOK_MAX_ATTEMPTS = 1
    caplog.set_level(logging.DEBUG)
    endpoint = webhooks.create_endpoint(url="http://127.0.0.1:1/placeholder")
    bare = endpoint.secret.removeprefix("whsec_")
    echo = f"bad signature, expected key {endpoint.secret} or {bare}".encode()
    with WebhookReceiver(statuses=[500, 500], body=echo) as receiver:
        webhooks.update_endpoint(str(endpoint.pk), url=receiver.url)
        webhooks.create_deliveries_for_event(make_event())
        webhooks.deliver_due_inline()
        webhooks.ping(str(endpoint.pk))
        webhooks.deliver_due_inline()
        receiver.wait_for(2)
    stored = [
        text for a in WebhookAttempt.objects.all() for text in (a.response_excerpt, a.error)
    ] + [d.last_error for d in WebhookDelivery.objects.all()]
    assert any("****" in text for text in stored)
    for text in [*stored, caplog.text]:
        assert endpoint.secret not in text
        assert bare not in text


@pytest.mark.django_db(transaction=True)
def test_an_outcome_is_recorded_through_a_brief_database_outage_without_sending_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import OperationalError

    from checkstack.automation.webhooks import attempt

    record = attempt._record
    failures = [OperationalError("server closed the connection unexpectedly")]

    def flaky_record(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return record(*args)

    monkeypatch.setattr(attempt, "_record", flaky_record)
    monkeypatch.setattr(attempt.time, "sleep", lambda seconds: None)
    with WebhookReceiver() as receiver:
        endpoint_for(receiver)
        (delivery_id,) = webhooks.create_deliveries_for_event(make_event())
        assert webhooks.send_delivery(delivery_id) == "success"
        assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Status.SUCCESS, 1)
    assert failures == []
