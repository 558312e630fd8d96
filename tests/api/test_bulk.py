"""Bulk resolve and delete: per-id results in input order, per-incident permission checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from incidents import services
from incidents.models import Incident, IncidentUpdate
from incidents.services import bulk as bulk_services
from tests.api.backends import BACKENDS, IncidentGrantBackend
from tests.api.helpers import change_count, make_incident, make_user, post, raw, update_count

RESOLVE = "/api/incidents/bulk-resolve/"
DELETE = "/api/incidents/bulk-delete/"
MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def incidents(systems: list[str]) -> dict[str, Incident]:
    """Open incidents ``a``, ``b``, ``c`` and an already resolved one, ``done``."""
    made = {name: make_incident(("db",), title=f"Incident {name}") for name in ("a", "b", "c")}
    made["done"] = make_incident(("api",), title="Done")
    services.resolve_incident(made["done"].pk)
    return made


@pytest.fixture
def grants(settings: Any) -> Iterator[dict[int, set[str]]]:
    """Enables the object-permission backend; tests fill ``{user pk: incident ids}``."""
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    IncidentGrantBackend.grants = {}
    yield IncidentGrantBackend.grants
    IncidentGrantBackend.grants = {}


@pytest.fixture
def scoped_client(grants: dict[int, set[str]], incidents: dict[str, Incident]) -> APIClient:
    """A user without the global permission who may manage incident ``a`` only."""
    user = make_user("olga")
    grants[user.pk] = {incidents["a"].pk}
    client = APIClient()
    client.force_login(user)
    return client


def results(response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.content
    return [(r["id"], r["status"]) for r in response.json()["results"]]


def snapshot(incident: Incident) -> tuple[Any, ...]:
    """Everything a bulk write could touch on one incident."""
    row = Incident.objects.filter(pk=incident.pk).values_list("status", "updated_at").first()
    return row, update_count(incident.pk), change_count("incident", incident.pk)


# -- managers ---------------------------------------------------------------------------------


def test_bulk_resolve_reports_each_id_in_input_order(
    manager_client: APIClient, incidents: dict[str, Incident]
) -> None:
    a, b, done = incidents["a"], incidents["b"], incidents["done"]
    done_before = snapshot(done)

    response = post(manager_client, RESOLVE, {"ids": [b.pk, MISSING, done.pk, a.pk, b.pk, "nope"]})

    assert results(response) == [
        (b.pk, "resolved"),
        (MISSING, "not_found"),
        (done.pk, "unchanged"),
        (a.pk, "resolved"),
        ("nope", "not_found"),
    ]
    assert Incident.objects.get(pk=a.pk).status == "resolved"
    assert Incident.objects.get(pk=b.pk).status == "resolved"
    assert Incident.objects.get(pk=incidents["c"].pk).status == "investigating"
    assert snapshot(done) == done_before
    assert IncidentUpdate.objects.filter(incident_id=b.pk, status_change="resolved").count() == 1


def test_bulk_resolve_uses_the_given_message(
    manager_client: APIClient, incidents: dict[str, Incident]
) -> None:
    post(manager_client, RESOLVE, {"ids": [incidents["a"].pk], "message": "Upstream fixed"})

    last = IncidentUpdate.objects.filter(incident_id=incidents["a"].pk).latest("created_at")
    assert (last.message, last.status_change) == ("Upstream fixed", "resolved")


def test_bulk_delete_reports_each_id_in_input_order(
    manager_client: APIClient, incidents: dict[str, Incident]
) -> None:
    a, c, done = incidents["a"], incidents["c"], incidents["done"]

    response = post(manager_client, DELETE, {"ids": [c.pk, MISSING, a.pk, c.pk, done.pk]})

    assert results(response) == [
        (c.pk, "deleted"),
        (MISSING, "not_found"),
        (a.pk, "deleted"),
        (done.pk, "deleted"),
    ]
    assert set(Incident.objects.values_list("pk", flat=True)) == {incidents["b"].pk}
    assert change_count("incident", a.pk) == 2  # created, tombstone


def test_one_failing_incident_does_not_stop_the_batch(
    manager_client: APIClient, incidents: dict[str, Incident], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = incidents["a"], incidents["b"]
    real_resolve = services.resolve_incident

    def flaky_resolve(incident_id: str, **kwargs: Any) -> Incident:
        if incident_id == a.pk:
            raise RuntimeError("boom")
        return real_resolve(incident_id, **kwargs)

    monkeypatch.setattr(bulk_services, "resolve_incident", flaky_resolve)

    response = post(manager_client, RESOLVE, {"ids": [a.pk, b.pk]})

    assert results(response) == [(a.pk, "error"), (b.pk, "resolved")]
    assert Incident.objects.get(pk=a.pk).status == "investigating"


def test_bulk_accepts_500_ids(manager_client: APIClient, incidents: dict[str, Incident]) -> None:
    ids = [incidents["a"].pk] + [f"missing-{n}" for n in range(499)]

    response = post(manager_client, DELETE, {"ids": ids})

    assert len(results(response)) == 500
    assert not Incident.objects.filter(pk=incidents["a"].pk).exists()


# -- input errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [RESOLVE, DELETE])
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"ids": []}, "ids"),
        ({"ids": [f"id-{n}" for n in range(501)]}, "ids"),
        ({}, "ids"),
        ({"ids": "abc"}, "ids"),
        ({"ids": None}, "ids"),
        ({"ids": ["x"], "force": True}, "force"),
    ],
)
def test_invalid_bulk_input_is_400(
    manager_client: APIClient,
    incidents: dict[str, Incident],
    path: str,
    payload: dict[str, Any],
    field: str,
) -> None:
    response = post(manager_client, path, payload)

    assert response.status_code == 400
    assert field in response.json()
    assert Incident.objects.filter(status="investigating").count() == 3


def test_delete_does_not_take_a_message(
    manager_client: APIClient, incidents: dict[str, Incident]
) -> None:
    response = post(manager_client, DELETE, {"ids": [incidents["a"].pk], "message": "bye"})

    assert response.status_code == 400
    assert response.json() == {"message": ["Unknown field."]}
    assert Incident.objects.filter(pk=incidents["a"].pk).exists()


@pytest.mark.parametrize("path", [RESOLVE, DELETE])
def test_malformed_bulk_json_is_400(
    manager_client: APIClient, incidents: dict[str, Incident], path: str
) -> None:
    response = raw(manager_client, "POST", path, '{"ids": ["a",')

    assert response.status_code == 400
    assert Incident.objects.count() == 4


# -- permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [RESOLVE, DELETE])
def test_anonymous_bulk_is_401(anon: APIClient, incidents: dict[str, Incident], path: str) -> None:
    response = post(anon, path, {"ids": [incidents["a"].pk]})

    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert Incident.objects.get(pk=incidents["a"].pk).status == "investigating"


@pytest.mark.parametrize("path", [RESOLVE, DELETE])
def test_plain_logged_in_user_gets_403_and_nothing_changes(
    user_client: APIClient, incidents: dict[str, Incident], path: str
) -> None:
    before = {name: snapshot(incident) for name, incident in incidents.items()}

    response = post(user_client, path, {"ids": [i.pk for i in incidents.values()]})

    assert response.status_code == 403
    assert {name: snapshot(incident) for name, incident in incidents.items()} == before


def test_bulk_resolve_touches_only_incidents_the_user_may_manage(
    scoped_client: APIClient, incidents: dict[str, Incident]
) -> None:
    a, b = incidents["a"], incidents["b"]
    b_before = snapshot(b)

    response = post(scoped_client, RESOLVE, {"ids": [b.pk, a.pk, MISSING]})

    assert results(response) == [(b.pk, "forbidden"), (a.pk, "resolved"), (MISSING, "not_found")]
    assert Incident.objects.get(pk=a.pk).status == "resolved"
    assert snapshot(b) == b_before


def test_bulk_delete_touches_only_incidents_the_user_may_manage(
    scoped_client: APIClient, incidents: dict[str, Incident]
) -> None:
    a, b, done = incidents["a"], incidents["b"], incidents["done"]
    before = {incident.pk: snapshot(incident) for incident in (b, done)}

    response = post(scoped_client, DELETE, {"ids": [a.pk, b.pk, done.pk]})

    assert results(response) == [(a.pk, "deleted"), (b.pk, "forbidden"), (done.pk, "forbidden")]
    assert not Incident.objects.filter(pk=a.pk).exists()
    assert {incident.pk: snapshot(incident) for incident in (b, done)} == before


@pytest.mark.parametrize("path", [RESOLVE, DELETE])
def test_bulk_is_403_when_no_given_incident_is_manageable(
    scoped_client: APIClient, incidents: dict[str, Incident], path: str
) -> None:
    others = [incidents["b"], incidents["c"]]
    before = [snapshot(incident) for incident in others]

    response = post(scoped_client, path, {"ids": [i.pk for i in others] + [MISSING]})

    assert response.status_code == 403
    assert [snapshot(incident) for incident in others] == before


def test_grant_on_one_incident_does_not_open_single_writes_on_others(
    scoped_client: APIClient, incidents: dict[str, Incident]
) -> None:
    response = post(scoped_client, f"/api/incidents/{incidents['b'].pk}/resolve/", {})

    assert response.status_code == 403
    assert Incident.objects.get(pk=incidents["b"].pk).status == "investigating"


def test_superuser_may_bulk_resolve(
    superuser_client: APIClient, incidents: dict[str, Incident]
) -> None:
    response = post(superuser_client, RESOLVE, {"ids": [incidents["c"].pk]})

    assert results(response) == [(incidents["c"].pk, "resolved")]
