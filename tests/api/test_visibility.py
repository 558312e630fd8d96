"""Read visibility (incidents.md): who sees which updates and links, and who may read at all."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from incidents import services
from incidents.models import Incident
from tests.api.helpers import add_timeline, make_incident, patch, post

SEES = {
    "anon": {"public"},
    "user_client": {"public", "logged_in"},
    "manager_client": {"public", "logged_in", "internal"},
    "token_client": {"public", "logged_in", "internal"},
    "superuser_client": {"public", "logged_in", "internal"},
}
MANAGERS = ("manager_client", "token_client", "superuser_client")


@pytest.fixture
def incident(systems: list[str], manager: Any) -> Incident:
    """An incident with one update and one link of each visibility, written by the manager."""
    incident = make_incident(("db",), title="Database down")
    add_timeline(incident, actor=manager)
    return incident


def visibilities(items: list[dict[str, Any]]) -> set[str]:
    return {item["visibility"] for item in items}


def assert_sees(data: dict[str, Any], expected: set[str]) -> None:
    assert visibilities(data["updates"]) == expected
    assert visibilities(data["links"]) == expected
    assert len(data["updates"]) == len(expected)
    assert len(data["links"]) == len(expected)


@pytest.mark.parametrize("audience", list(SEES))
def test_detail_shows_exactly_the_updates_and_links_of_the_audience(
    request: pytest.FixtureRequest, incident: Incident, audience: str
) -> None:
    client: APIClient = request.getfixturevalue(audience)

    response = client.get(f"/api/incidents/{incident.pk}/")

    assert response.status_code == 200
    assert_sees(response.json(), SEES[audience])


@pytest.mark.parametrize("audience", MANAGERS)
def test_details_returned_by_writes_show_everything_to_managers(
    request: pytest.FixtureRequest, incident: Incident, audience: str
) -> None:
    client: APIClient = request.getfixturevalue(audience)

    patched = patch(client, f"/api/incidents/{incident.pk}/", {"title": "Database degraded"})
    resolved = post(client, f"/api/incidents/{incident.pk}/resolve/", {"message": "Fixed"})

    assert patched.status_code == 200
    assert_sees(patched.json(), SEES[audience])
    assert resolved.status_code == 200
    everything = SEES[audience]
    assert visibilities(resolved.json()["links"]) == everything
    assert visibilities(resolved.json()["updates"]) == everything
    assert len(resolved.json()["updates"]) == 4


def test_created_incident_detail_shows_the_manager_fields(
    manager_client: APIClient, manager: Any, systems: list[str]
) -> None:
    response = post(
        manager_client,
        "/api/incidents/",
        {"title": "T", "severity": "minor", "system_ids": ["db"], "initial_message": "Hi"},
    )

    [update] = response.json()["updates"]
    assert update["created_by"] == manager.pk
    assert update["edit_history"] == []


@pytest.mark.parametrize("audience", ["anon", "user_client"])
def test_edit_history_and_created_by_are_for_managers_only(
    request: pytest.FixtureRequest, incident: Incident, audience: str
) -> None:
    update_id = incident.updates.get(visibility="public").pk
    services.edit_update(incident.pk, update_id, message="corrected")
    client: APIClient = request.getfixturevalue(audience)

    data = client.get(f"/api/incidents/{incident.pk}/").json()

    for update in data["updates"]:
        assert "edit_history" not in update
        assert "created_by" not in update


@pytest.mark.parametrize("audience", MANAGERS)
def test_managers_see_edit_history_and_created_by(
    request: pytest.FixtureRequest, incident: Incident, manager: Any, audience: str
) -> None:
    update_id = incident.updates.get(visibility="public").pk
    services.edit_update(incident.pk, update_id, message="corrected")
    client: APIClient = request.getfixturevalue(audience)

    data = client.get(f"/api/incidents/{incident.pk}/").json()

    edited = next(u for u in data["updates"] if u["id"] == update_id)
    assert edited["created_by"] == manager.pk
    assert [entry["message"] for entry in edited["edit_history"]] == ["public note"]


def test_created_by_name_is_null_for_anonymous_readers(anon: APIClient, incident: Incident) -> None:
    data = anon.get(f"/api/incidents/{incident.pk}/").json()

    assert [u["created_by_name"] for u in data["updates"]] == [None]


@pytest.mark.parametrize("audience", ["user_client", "manager_client"])
def test_created_by_name_is_shown_to_logged_in_readers(
    request: pytest.FixtureRequest, incident: Incident, audience: str
) -> None:
    client: APIClient = request.getfixturevalue(audience)

    data = client.get(f"/api/incidents/{incident.pk}/").json()

    assert {u["created_by_name"] for u in data["updates"]} == {"Mona Manager"}


def test_update_returned_by_a_write_shows_manager_fields(
    manager_client: APIClient, manager: Any, incident: Incident
) -> None:
    created = post(
        manager_client,
        f"/api/incidents/{incident.pk}/updates/",
        {"message": "internal detail", "visibility": "internal"},
    )
    edited = patch(
        manager_client,
        f"/api/incidents/{incident.pk}/updates/{created.json()['id']}/",
        {"message": "internal detail, corrected"},
    )

    assert created.json()["created_by"] == manager.pk
    assert edited.json()["edit_history"][0]["message"] == "internal detail"


def test_a_user_without_name_is_shown_by_username(
    user_client: APIClient, systems: list[str]
) -> None:
    from tests.api.helpers import make_user

    author = make_user("plainname")
    incident = make_incident(("db",))
    services.add_update(incident.pk, message="hello", actor=author)

    data = user_client.get(f"/api/incidents/{incident.pk}/").json()

    assert data["updates"][0]["created_by_name"] == "plainname"


# -- CHECKSTACK_PUBLIC_READ -------------------------------------------------------------------

READS = [
    "/api/incidents/",
    "/api/incidents/{incident}/",
    "/api/catalog/systems/",
    "/api/catalog/systems/db/",
    "/api/catalog/groups/",
]


@pytest.mark.parametrize("path", READS)
def test_anonymous_reads_are_401_when_public_read_is_off(
    anon: APIClient, incident: Incident, path: str
) -> None:
    with override_settings(CHECKSTACK_PUBLIC_READ=False):
        response = anon.get(path.format(incident=incident.pk))

    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize("path", READS)
def test_logged_in_reads_work_when_public_read_is_off(
    user_client: APIClient, incident: Incident, path: str
) -> None:
    with override_settings(CHECKSTACK_PUBLIC_READ=False):
        response = user_client.get(path.format(incident=incident.pk))

    assert response.status_code == 200


@pytest.mark.parametrize("path", READS)
def test_anonymous_reads_work_when_public_read_is_on(
    anon: APIClient, incident: Incident, path: str
) -> None:
    with override_settings(CHECKSTACK_PUBLIC_READ=True):
        response = anon.get(path.format(incident=incident.pk))

    assert response.status_code == 200


def test_logged_in_reader_still_sees_only_its_audience_when_public_read_is_off(
    user_client: APIClient, incident: Incident
) -> None:
    with override_settings(CHECKSTACK_PUBLIC_READ=False):
        data = user_client.get(f"/api/incidents/{incident.pk}/").json()

    assert_sees(data, {"public", "logged_in"})
