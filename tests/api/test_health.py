"""``GET /healthz`` and a real lock timeout answered with 503 + Retry-After."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction
from django.test import Client
from rest_framework.test import APIClient

from checkstack.entities import registry as entity_registry
from checkstack.entities.models import Change
from incidents.entity import incident_handle
from tests.api.helpers import make_incident, make_systems


@pytest.mark.django_db
def test_healthz_reports_the_database_and_an_empty_queue(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "queue": {"pending": 0, "oldest_pending_seconds": 0},
        "failing": [],
    }


@pytest.mark.django_db
def test_healthz_counts_pending_outbox_rows(client: Client) -> None:
    make_systems("db")  # one catalog.created event and one delivery per work queue, never enqueued
    work_queues = entity_registry.work_queues_for("catalog-system")
    assert work_queues  # incidents' cleanup at least

    queue = client.get("/healthz").json()["queue"]

    assert queue["pending"] == 1 + len(work_queues)
    assert queue["oldest_pending_seconds"] >= 0


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_is_unreachable(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(connection, "cursor", unreachable)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}
    assert client.get("/healthz?checks=database").status_code == 503
    # Expected in an outage and asked every few seconds: a warning line, no traceback.
    health = [r for r in caplog.records if r.name == "checkstack.health"]
    assert [(r.levelname, r.exc_info) for r in health] == [("WARNING", None)] * 2
    assert "could not connect to server" in health[0].getMessage()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_write_blocked_past_the_lock_timeout_answers_503_and_writes_nothing(
    manager_client: APIClient, settings: Any
) -> None:
    settings.CHECKSTACK_LOCK_TIMEOUT = 0.3
    make_systems("db")
    incident = make_incident(("db",))
    holding, release = threading.Event(), threading.Event()

    def hold_the_incident() -> None:
        try:
            with transaction.atomic():

                def wait(prev: Any) -> None:
                    holding.set()
                    release.wait(10)

                incident_handle().mutate(incident.pk, wait)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_incident)
    holder.start()
    try:
        assert holding.wait(10)
        response = manager_client.post(f"/api/incidents/{incident.pk}/resolve/", {}, format="json")
    finally:
        release.set()
        holder.join(10)

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert set(response.json()) == {"detail"}
    assert Change.objects.filter(kind="incident", entity_id=incident.pk).count() == 1
    incident.refresh_from_db()
    assert incident.status == "investigating"
