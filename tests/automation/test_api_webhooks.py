"""The webhook rows of api.md: endpoints (secret only in the 201 body), ping, deliveries with
their attempts, redeliver."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from checkstack.automation import webhooks
from checkstack.automation.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from tests.api.helpers import make_user, patch, post, raw
from tests.automation.helpers import grant

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/automation/webhooks/"
DELIVERIES = "/api/automation/deliveries/"
HOOK_URL = "http://127.0.0.1:9/hook"
ENDPOINT_KEYS = {
    "id",
    "url",
    "events",
    "system_ids",
    "enabled",
    "description",
    "consecutive_failures",
    "disabled_at",
    "disabled_reason",
    "created_at",
    "updated_at",
}
MALFORMED_IDS = [str(uuid.uuid4()), "not-a-uuid", "12345", "%E2%98%83", "a%00b"]
MALFORMED_DELIVERY_IDS = ["999999", "abc", "-1", "0", "99999999999999999999999", "1.5", "a%00b"]


@pytest.fixture(autouse=True)
def private_urls(settings: Any) -> None:
    settings.CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = True


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def reader() -> APIClient:
    """Logged in and managing incidents, without ``manage_automation``."""
    return client_for(grant(make_user("rita"), "incidents.manage_incident"))


@pytest.fixture
def automator() -> APIClient:
    return client_for(grant(make_user("otto"), "automation.manage_automation"))


@pytest.fixture
def endpoint() -> WebhookEndpoint:
    return webhooks.create_endpoint(url=HOOK_URL, events=["incident.created"])


def failed_delivery(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A delivery that failed after two attempts (written with the ORM)."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        trigger_event_id=uuid.uuid4(),
        event_type="incident.created",
        data={"incidentId": "inc-1"},
        status=WebhookDeliveryStatus.FAILED,
        attempts=2,
        max_attempts=2,
        last_status_code=503,
        last_error="HTTP 503",
        finished_at=now,
    )
    for number in (1, 2):
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            status_code=503,
            duration_ms=12,
            response_excerpt="busy",
            outcome="retry" if number == 1 else "failed",
        )
    return delivery


# -- permissions ------------------------------------------------------------------------------

ENDPOINT_ROUTES = [
    ("get", ""),
    ("post", ""),
    ("get", "{id}/"),
    ("patch", "{id}/"),
    ("delete", "{id}/"),
    ("post", "{id}/ping/"),
    ("get", "{id}/deliveries/"),
]


@pytest.mark.parametrize(("method", "suffix"), ENDPOINT_ROUTES)
def test_anonymous_is_401_on_webhooks(
    anon: APIClient, endpoint: WebhookEndpoint, method: str, suffix: str
) -> None:
    path = WEBHOOKS + suffix.format(id=endpoint.pk)

    response = getattr(anon, method)(path, {"url": HOOK_URL}, format="json")

    assert response.status_code == 401
    assert WebhookEndpoint.objects.count() == 1
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize(("method", "suffix"), ENDPOINT_ROUTES)
def test_without_manage_automation_webhooks_are_403(
    reader: APIClient, endpoint: WebhookEndpoint, method: str, suffix: str
) -> None:
    path = WEBHOOKS + suffix.format(id=endpoint.pk)

    response = getattr(reader, method)(path, {"url": HOOK_URL}, format="json")

    assert response.status_code == 403
    assert WebhookEndpoint.objects.count() == 1
    assert not WebhookDelivery.objects.exists()


def test_redeliver_needs_manage_automation(
    anon: APIClient, reader: APIClient, endpoint: WebhookEndpoint
) -> None:
    delivery = failed_delivery(endpoint)

    assert anon.post(f"{DELIVERIES}{delivery.pk}/redeliver/").status_code == 401
    assert reader.post(f"{DELIVERIES}{delivery.pk}/redeliver/").status_code == 403
    assert WebhookDelivery.objects.get().status == "failed"


# -- endpoints --------------------------------------------------------------------------------


def test_create_returns_the_secret_once_and_never_again(automator: APIClient) -> None:
    response = post(
        automator,
        WEBHOOKS,
        {
            "url": HOOK_URL,
            "events": ["incident.created", "incident.resolved"],
            "description": "Pager bridge",
        },
    )

    assert response.status_code == 201
    created = response.json()
    stored = WebhookEndpoint.objects.get()
    assert set(created) == ENDPOINT_KEYS | {"secret"}
    assert created["secret"] == stored.secret
    assert created["secret"]
    assert created["events"] == ["incident.created", "incident.resolved"]
    assert created["enabled"] is True
    assert created["consecutive_failures"] == 0

    detail = automator.get(f"{WEBHOOKS}{stored.pk}/").json()
    listed = automator.get(WEBHOOKS).json()["results"]
    patched = patch(automator, f"{WEBHOOKS}{stored.pk}/", {"description": "Pager"}).json()
    for shown in (detail, listed[0], patched):
        assert set(shown) == ENDPOINT_KEYS
        assert stored.secret not in str(shown)


def test_create_without_events_subscribes_to_every_event(automator: APIClient) -> None:
    response = post(automator, WEBHOOKS, {"url": HOOK_URL})

    assert response.status_code == 201
    assert response.json()["events"] == ["*"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": HOOK_URL, "secret": "mine"}, "secret"),
        ({"url": HOOK_URL, "consecutive_failures": 0}, "consecutive_failures"),
        ({"url": "ftp://127.0.0.1/hook"}, "url"),
        ({"url": HOOK_URL, "events": ["no.such.trigger"]}, "events"),
        ({"url": HOOK_URL, "events": "incident.created"}, "events"),
        ({"url": HOOK_URL, "description": "a\x00b"}, "description"),
        ({"events": ["*"]}, "url"),
    ],
)
def test_create_with_bad_input_is_400_and_creates_nothing(
    automator: APIClient, body: dict[str, Any], field: str
) -> None:
    response = post(automator, WEBHOOKS, body)

    assert response.status_code == 400
    assert field in response.json()
    assert not WebhookEndpoint.objects.exists()


def test_create_with_malformed_json_is_400(automator: APIClient) -> None:
    assert raw(automator, "post", WEBHOOKS, '{"url": ').status_code == 400
    assert not WebhookEndpoint.objects.exists()


def test_patch_changes_only_the_given_fields(
    automator: APIClient, endpoint: WebhookEndpoint
) -> None:
    response = patch(
        automator, f"{WEBHOOKS}{endpoint.pk}/", {"enabled": False, "system_ids": ["db"]}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["enabled"] is False
    assert body["system_ids"] == ["db"]
    assert body["url"] == HOOK_URL
    assert body["events"] == ["incident.created"]
    stored = WebhookEndpoint.objects.get()
    assert (stored.enabled, stored.system_ids, stored.secret) == (False, ["db"], endpoint.secret)


def test_patch_with_an_unknown_field_is_400_and_changes_nothing(
    automator: APIClient, endpoint: WebhookEndpoint
) -> None:
    response = patch(automator, f"{WEBHOOKS}{endpoint.pk}/", {"enabled": False, "secret": "x"})

    assert response.status_code == 400
    assert response.json() == {"secret": ["Unknown field."]}
    assert WebhookEndpoint.objects.get().enabled is True


def test_enabling_an_auto_disabled_endpoint_clears_the_flag(
    automator: APIClient, endpoint: WebhookEndpoint
) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False,
        consecutive_failures=20,
        disabled_at=timezone.now(),
        disabled_reason="20 consecutive failed deliveries",
    )
    shown = automator.get(f"{WEBHOOKS}{endpoint.pk}/").json()
    assert shown["disabled_at"] is not None
    assert shown["disabled_reason"] == "20 consecutive failed deliveries"

    response = patch(automator, f"{WEBHOOKS}{endpoint.pk}/", {"enabled": True})

    assert response.status_code == 200
    assert response.json()["disabled_at"] is None
    assert response.json()["consecutive_failures"] == 0


def test_delete_removes_the_endpoint_then_404(
    automator: APIClient, endpoint: WebhookEndpoint
) -> None:
    failed_delivery(endpoint)

    assert automator.delete(f"{WEBHOOKS}{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert automator.delete(f"{WEBHOOKS}{endpoint.pk}/").status_code == 404


@pytest.mark.parametrize("endpoint_id", MALFORMED_IDS)
def test_unknown_or_malformed_endpoint_id_is_404(
    automator: APIClient, endpoint: WebhookEndpoint, endpoint_id: str
) -> None:
    path = f"{WEBHOOKS}{endpoint_id}/"

    assert automator.get(path).status_code == 404
    assert patch(automator, path, {"enabled": False}).status_code == 404
    assert automator.delete(path).status_code == 404
    assert automator.post(path + "ping/").status_code == 404
    assert automator.get(path + "deliveries/").status_code == 404
    assert WebhookEndpoint.objects.get().enabled is True
    assert not WebhookDelivery.objects.exists()


def test_list_is_paginated(automator: APIClient) -> None:
    for number in range(3):
        webhooks.create_endpoint(url=f"{HOOK_URL}/{number}")

    body = automator.get(WEBHOOKS + "?page_size=2").json()

    assert body["count"] == 3
    assert [e["url"] for e in body["results"]] == [f"{HOOK_URL}/0", f"{HOOK_URL}/1"]


# -- ping, deliveries, redeliver --------------------------------------------------------------


def test_ping_is_202_and_creates_a_pending_delivery(
    automator: APIClient, endpoint: WebhookEndpoint
) -> None:
    response = automator.post(f"{WEBHOOKS}{endpoint.pk}/ping/")

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    body = response.json()
    assert body["id"] == delivery.pk
    assert body["message_id"] == delivery.message_id
    assert body["endpoint_id"] == str(endpoint.pk)
    assert body["event_type"] == "webhook.ping"
    assert body["status"] == "pending"
    assert body["attempt_count"] == 0
    assert body["attempts"] == []


def test_ping_with_a_body_field_is_400_and_sends_nothing(
    automator: APIClient, endpoint: WebhookEndpoint
) -> None:
    response = post(automator, f"{WEBHOOKS}{endpoint.pk}/ping/", {"url": HOOK_URL})

    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_deliveries_list_newest_first_with_their_attempts(
    automator: APIClient, endpoint: WebhookEndpoint
) -> None:
    failed = failed_delivery(endpoint)
    ping = webhooks.ping(str(endpoint.pk))
    other = webhooks.create_endpoint(url=f"{HOOK_URL}/other")
    failed_delivery(other)

    response = automator.get(f"{WEBHOOKS}{endpoint.pk}/deliveries/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [d["id"] for d in body["results"]] == [ping.pk, failed.pk]
    shown = body["results"][1]
    assert shown["status"] == "failed"
    assert shown["attempt_count"] == 2
    assert shown["last_status_code"] == 503
    assert shown["trigger_event_id"] == str(failed.trigger_event_id)
    assert [(a["number"], a["status_code"], a["outcome"]) for a in shown["attempts"]] == [
        (1, 503, "retry"),
        (2, 503, "failed"),
    ]
    assert shown["attempts"][0]["response_excerpt"] == "busy"
    assert shown["attempts"][0]["duration_ms"] == 12


def test_deliveries_query_count_does_not_grow_with_deliveries(
    automator: APIClient, endpoint: WebhookEndpoint, django_assert_max_num_queries: Any
) -> None:
    for _ in range(10):
        failed_delivery(endpoint)

    # session + user + permissions, endpoint, count, page, attempts
    with django_assert_max_num_queries(8):
        response = automator.get(f"{WEBHOOKS}{endpoint.pk}/deliveries/")

    assert len(response.json()["results"]) == 10


def test_redeliver_is_202_and_queues_the_delivery_again(
    automator: APIClient, endpoint: WebhookEndpoint
) -> None:
    delivery = failed_delivery(endpoint)

    response = automator.post(f"{DELIVERIES}{delivery.pk}/redeliver/")

    assert response.status_code == 202
    body = response.json()
    assert body["id"] == delivery.pk
    assert body["message_id"] == delivery.message_id
    assert body["status"] == "pending"
    assert body["finished_at"] is None
    assert len(body["attempts"]) == 2
    assert WebhookDelivery.objects.get().status == "pending"


def test_redeliver_while_sending_is_409(automator: APIClient, endpoint: WebhookEndpoint) -> None:
    delivery = failed_delivery(endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="sending", finished_at=None)

    response = automator.post(f"{DELIVERIES}{delivery.pk}/redeliver/")

    assert response.status_code == 409
    assert WebhookDelivery.objects.get().status == "sending"


def test_redeliver_with_a_body_field_is_400(
    automator: APIClient, endpoint: WebhookEndpoint
) -> None:
    delivery = failed_delivery(endpoint)

    response = post(automator, f"{DELIVERIES}{delivery.pk}/redeliver/", {"force": True})

    assert response.status_code == 400
    assert WebhookDelivery.objects.get().status == "failed"


@pytest.mark.parametrize("delivery_id", MALFORMED_DELIVERY_IDS)
def test_unknown_or_malformed_delivery_id_is_404(
    automator: APIClient, endpoint: WebhookEndpoint, delivery_id: str
) -> None:
    failed_delivery(endpoint)

    assert automator.post(f"{DELIVERIES}{delivery_id}/redeliver/").status_code == 404
    assert WebhookDelivery.objects.get().status == "failed"
