"""``/healthz`` reports every backlog (outbox, automation runs, webhook deliveries, the worker
heartbeat), answers 503 past a threshold, and shows its figures (``?verbose``) only to those
allowed."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from checkstack.automation.models import (
    Automation,
    AutomationRun,
    WebhookDelivery,
    WebhookEndpoint,
)
from checkstack.entities import tasks
from checkstack.entities.models import Delivery, TriggerEvent
from tests.api.helpers import make_systems, make_user

PLAIN_KEYS = {"status", "database", "queue", "failing"}


@pytest.fixture(autouse=True)
def no_heartbeat() -> Iterator[None]:
    """The local-memory cache outlives a test: no heartbeat of another test leaks in."""
    cache.delete(tasks.WORKER_HEARTBEAT_KEY)
    yield
    cache.delete(tasks.WORKER_HEARTBEAT_KEY)


@pytest.fixture
def staff_client(db: None) -> Client:
    client = Client()
    client.force_login(make_user("sam", is_staff=True))
    return client


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def make_runs(status: str, count: int = 1, *, idle_seconds: float = 0) -> list[AutomationRun]:
    automation = Automation.objects.create(name=f"{status} {count} {idle_seconds}")
    return AutomationRun.objects.bulk_create(
        AutomationRun(
            automation=automation,
            event="incident.created",
            status=status,
            updated_at=ago(idle_seconds),
        )
        for _ in range(count)
    )


def make_endpoint(**fields: Any) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in", secret="whsec_test", events=["*"], **fields
    )


def make_deliveries(count: int, *, due_seconds_ago: float = 0, **fields: Any) -> None:
    endpoint = make_endpoint()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event_type="incident.created",
            next_attempt_at=ago(due_seconds_ago),
            **fields,
        )
        for _ in range(count)
    )


def healthz(client: Client, query: str = "?verbose") -> tuple[int, dict[str, Any]]:
    response = client.get(f"/healthz{query}")
    return response.status_code, response.json()


# Webhook deliveries


@pytest.mark.django_db
def test_pending_webhook_deliveries_are_reported(staff_client: Client) -> None:
    make_deliveries(842, due_seconds_ago=5)
    make_deliveries(3, status="success")

    status, body = healthz(staff_client)

    assert status == 200
    assert body["webhooks"]["pending"] == 842
    assert 5 <= body["webhooks"]["oldest_due_seconds"] < 60
    assert body["webhooks"]["disabled_endpoints"] == 0


@pytest.mark.django_db
def test_webhook_deliveries_overdue_past_the_threshold_answer_503(
    staff_client: Client, settings: Any
) -> None:
    settings.CHECKSTACK_HEALTH_MAX_WEBHOOK_AGE = 600
    make_deliveries(2, due_seconds_ago=601)

    status, body = healthz(staff_client)

    assert status == 503
    assert body["status"] == "degraded"
    assert body["failing"] == ["webhooks.oldest_due_seconds"]
    assert body["webhooks"]["oldest_due_seconds"] >= 601


@pytest.mark.django_db
def test_a_webhook_delivery_waiting_for_its_retry_is_not_overdue(staff_client: Client) -> None:
    # Backoff between attempts is expected: only the time since a delivery became due counts.
    make_deliveries(1, due_seconds_ago=-3600, attempts=3, created_at=ago(7200))

    status, body = healthz(staff_client)

    assert status == 200
    assert body["webhooks"] == {"pending": 1, "oldest_due_seconds": 0, "disabled_endpoints": 0}


@pytest.mark.django_db
def test_disabled_endpoints_are_reported_and_fail_only_when_a_threshold_is_set(
    staff_client: Client, settings: Any
) -> None:
    make_endpoint(enabled=False, disabled_at=timezone.now(), disabled_reason="20 failures")
    make_endpoint(enabled=False)  # switched off by an operator: not a failure

    status, body = healthz(staff_client)
    assert status == 200
    assert body["webhooks"]["disabled_endpoints"] == 1

    settings.CHECKSTACK_HEALTH_MAX_DISABLED_ENDPOINTS = 0
    status, body = healthz(staff_client)
    assert status == 503
    assert body["failing"] == ["webhooks.disabled_endpoints"]


# Automation runs


@pytest.mark.django_db
def test_stalled_runs_are_reported_and_answer_503(staff_client: Client) -> None:
    make_runs("running", 2, idle_seconds=3600)
    make_runs("pending", 1, idle_seconds=3600)
    make_runs("running", 1)  # progressing

    status, body = healthz(staff_client)

    assert status == 503
    assert body["status"] == "degraded"
    assert body["failing"] == ["runs.stalled"]
    assert body["runs"] == {"queued": 4, "waiting": 0, "stalled": 3}


@pytest.mark.django_db
def test_waiting_runs_are_reported_and_do_not_fail(staff_client: Client) -> None:
    make_runs("waiting", 2, idle_seconds=3600)  # waiting for an event is not stalling
    make_runs("success", 1, idle_seconds=3600)

    status, body = healthz(staff_client)

    assert status == 200
    assert body["runs"] == {"queued": 0, "waiting": 2, "stalled": 0}
    assert body["failing"] == []


@pytest.mark.django_db
def test_stalled_runs_up_to_the_threshold_are_tolerated(
    staff_client: Client, settings: Any
) -> None:
    settings.CHECKSTACK_HEALTH_MAX_STALLED_RUNS = 2
    make_runs("running", 2, idle_seconds=3600)

    assert healthz(staff_client)[0] == 200
    make_runs("running", 1, idle_seconds=3600)
    assert healthz(staff_client)[0] == 503


# The outbox


@pytest.mark.django_db
def test_an_outbox_row_pending_past_the_threshold_answers_503(
    client: Client, settings: Any
) -> None:
    settings.CHECKSTACK_HEALTH_MAX_OUTBOX_AGE = 300
    make_systems("db")
    Delivery.objects.update(created_at=ago(301))
    TriggerEvent.objects.update(created_at=ago(301))

    status, body = healthz(client, "")

    assert status == 503
    assert body["status"] == "degraded"
    assert body["failing"] == ["queue.oldest_pending_seconds"]
    assert body["queue"]["oldest_pending_seconds"] >= 301


# The worker heartbeat


@pytest.mark.django_db
def test_the_sweep_writes_the_worker_heartbeat_whose_age_is_reported(
    staff_client: Client,
) -> None:
    assert healthz(staff_client)[1]["worker"] == {"last_heartbeat_seconds": None}

    tasks.sweep()

    age = healthz(staff_client)[1]["worker"]["last_heartbeat_seconds"]
    assert age is not None and 0 <= age < 30


@pytest.mark.django_db
def test_an_old_or_missing_heartbeat_fails_only_when_its_threshold_is_set(
    staff_client: Client, settings: Any
) -> None:
    assert healthz(staff_client)[0] == 200  # off by default: no worker needed

    settings.CHECKSTACK_HEALTH_MAX_HEARTBEAT_AGE = 120
    status, body = healthz(staff_client)
    assert status == 503
    assert body["failing"] == ["worker.last_heartbeat_seconds"]

    cache.set(tasks.WORKER_HEARTBEAT_KEY, time.time() - 121, timeout=None)
    status, body = healthz(staff_client)
    assert status == 503
    assert body["worker"]["last_heartbeat_seconds"] >= 121

    tasks.sweep()
    assert healthz(staff_client)[0] == 200


# Thresholds off, database-only checks


@pytest.mark.django_db
def test_a_threshold_of_none_turns_its_check_off(client: Client, settings: Any) -> None:
    settings.CHECKSTACK_HEALTH_MAX_OUTBOX_AGE = None
    settings.CHECKSTACK_HEALTH_MAX_STALLED_RUNS = None
    settings.CHECKSTACK_HEALTH_MAX_WEBHOOK_AGE = None
    make_systems("db")
    Delivery.objects.update(created_at=ago(86400))
    make_runs("running", 5, idle_seconds=86400)
    make_deliveries(5, due_seconds_ago=86400)

    status, body = healthz(client, "")

    assert status == 200
    assert body["status"] == "ok"
    assert body["failing"] == []


@pytest.mark.django_db
def test_checks_database_ignores_every_backlog(client: Client) -> None:
    make_runs("running", 5, idle_seconds=86400)
    make_deliveries(5, due_seconds_ago=86400)
    assert healthz(client, "")[0] == 503

    assert healthz(client, "?checks=database") == (200, {"status": "ok", "database": "ok"})


@pytest.mark.django_db
def test_checks_with_an_unknown_name_is_a_400(client: Client) -> None:
    status, body = healthz(client, "?checks=everything")

    assert status == 400
    assert set(body) == {"detail"}


# Who sees the figures


@pytest.mark.django_db
def test_verbose_figures_are_hidden_from_anonymous_users_by_default(client: Client) -> None:
    make_runs("running", 1, idle_seconds=3600)

    status, body = healthz(client)

    assert status == 503  # the failing check is named, its figures are not shown
    assert set(body) == PLAIN_KEYS
    assert body["failing"] == ["runs.stalled"]


@pytest.mark.django_db
def test_verbose_figures_are_public_when_the_setting_allows(client: Client, settings: Any) -> None:
    settings.CHECKSTACK_HEALTH_VERBOSE_PUBLIC = True

    status, body = healthz(client)

    assert status == 200
    assert set(body) == PLAIN_KEYS | {"runs", "webhooks", "worker"}
    assert body["runs"] == {"queued": 0, "waiting": 0, "stalled": 0}


@pytest.mark.django_db
def test_verbose_figures_are_shown_to_an_api_token(token_client: APIClient) -> None:
    make_deliveries(2)

    status, body = healthz(token_client)

    assert status == 200
    assert body["webhooks"]["pending"] == 2
    assert body["worker"] == {"last_heartbeat_seconds": None}


@pytest.mark.django_db
def test_verbose_figures_need_staff_or_a_valid_token(
    user_client: APIClient, anon: APIClient
) -> None:
    assert set(healthz(user_client)[1]) == PLAIN_KEYS  # logged in, not staff

    anon.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    status, body = healthz(anon)
    assert status == 200
    assert set(body) == PLAIN_KEYS


# Cost


@pytest.mark.django_db
def test_healthz_runs_a_bounded_number_of_queries_whatever_the_backlog(
    token_client: APIClient, django_assert_max_num_queries: Any
) -> None:
    # SELECT 1, the outbox (4), runs (1), webhook deliveries and endpoints (2), the token (1).
    def verbose_queries() -> int:
        with django_assert_max_num_queries(9) as captured:
            response = token_client.get("/healthz?verbose")
        assert {"queue", "runs", "webhooks", "worker"} <= set(response.json())
        return len(captured)

    few = verbose_queries()
    make_systems("db", "api", "web")
    make_runs("running", 30, idle_seconds=3600)
    make_runs("waiting", 30)
    make_deliveries(30)
    make_endpoint(enabled=False, disabled_at=timezone.now())

    assert verbose_queries() == few
