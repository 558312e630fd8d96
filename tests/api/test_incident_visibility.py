"""The incident's own visibility in the API: written by managers, and reads hide what the
caller's audience may not see (404 on detail, absent from lists)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from incidents.models import Incident
from tests.api.helpers import make_incident, patch, post

SEES = {
    "anon": {"public"},
    "user_client": {"public", "logged_in"},
    "manager_client": {"public", "logged_in", "internal"},
    "token_client": {"public", "logged_in", "internal"},
}


@pytest.fixture
def incidents(systems: list[str]) -> dict[str, Incident]:
    return {
        v: make_incident(("db",), title=f"{v} incident", visibility=v)
        for v in ("public", "logged_in", "internal")
    }


@pytest.mark.parametrize("audience", list(SEES))
def test_the_list_has_only_the_incidents_of_the_audience(
    request: pytest.FixtureRequest, incidents: dict[str, Incident], audience: str
) -> None:
    client: APIClient = request.getfixturevalue(audience)

    data = client.get("/api/incidents/").json()

    assert {row["visibility"] for row in data["results"]} == SEES[audience]
    assert data["count"] == len(SEES[audience])


@pytest.mark.parametrize("audience", list(SEES))
@pytest.mark.parametrize("visibility", ["public", "logged_in", "internal"])
def test_a_detail_the_audience_may_not_see_is_404(
    request: pytest.FixtureRequest,
    incidents: dict[str, Incident],
    audience: str,
    visibility: str,
) -> None:
    client: APIClient = request.getfixturevalue(audience)

    response = client.get(f"/api/incidents/{incidents[visibility].pk}/")

    if visibility in SEES[audience]:
        assert response.status_code == 200
        assert response.json()["visibility"] == visibility
    else:
        assert response.status_code == 404
        assert "incident" in response.json()["detail"].lower()


def test_a_manager_creates_and_patches_the_visibility(
    manager_client: APIClient, anon: APIClient, systems: list[str]
) -> None:
    created = post(
        manager_client,
        "/api/incidents/",
        {"title": "T", "severity": "minor", "system_ids": ["db"], "visibility": "internal"},
    )
    incident_id = created.json()["id"]
    hidden = anon.get(f"/api/incidents/{incident_id}/")
    patched = patch(manager_client, f"/api/incidents/{incident_id}/", {"visibility": "public"})

    assert created.status_code == 201
    assert created.json()["visibility"] == "internal"
    assert hidden.status_code == 404
    assert patched.json()["visibility"] == "public"
    assert anon.get(f"/api/incidents/{incident_id}/").status_code == 200


def test_an_incident_created_without_visibility_is_public(
    manager_client: APIClient, systems: list[str]
) -> None:
    created = post(
        manager_client, "/api/incidents/", {"title": "T", "severity": "minor", "system_ids": ["db"]}
    )

    assert created.json()["visibility"] == "public"


@pytest.mark.parametrize("value", ["everyone", None, 3])
def test_a_bad_visibility_is_400_and_changes_nothing(
    manager_client: APIClient, systems: list[str], value: object
) -> None:
    incident = make_incident(("db",))

    created = post(
        manager_client,
        "/api/incidents/",
        {"title": "T", "severity": "minor", "system_ids": ["db"], "visibility": value},
    )
    patched = patch(manager_client, f"/api/incidents/{incident.pk}/", {"visibility": value})

    assert (created.status_code, patched.status_code) == (400, 400)
    assert "visibility" in created.json()
    assert "visibility" in patched.json()
    assert Incident.objects.count() == 1
    assert Incident.objects.get(pk=incident.pk).visibility == "public"
