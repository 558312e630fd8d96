"""Incident endpoints: every row of api.md's incident table, its errors and permissions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from incidents import services
from incidents.models import Incident, IncidentLink, IncidentUpdate
from tests.api.helpers import (
    body,
    change_count,
    link_count,
    make_incident,
    patch,
    post,
    raw,
    update_count,
)

INCIDENT_FIELDS = {
    "id",
    "title",
    "description",
    "status",
    "severity",
    "suppress_notifications",
    "health_override",
    "visibility",
    "system_ids",
    "created_at",
    "updated_at",
    "resolved_at",
}
DETAIL_FIELDS = INCIDENT_FIELDS | {"updates", "links"}
UPDATE_FIELDS = {
    "id",
    "incident_id",
    "message",
    "status_change",
    "visibility",
    "created_at",
    "edited_at",
    "created_by_name",
}
MANAGER_UPDATE_FIELDS = UPDATE_FIELDS | {"edit_history", "created_by"}
LINK_FIELDS = {"id", "incident_id", "label", "url", "visibility", "created_at"}

VALID_CREATE = {"title": "Database down", "severity": "critical", "system_ids": ["db"]}


@pytest.fixture
def incident(systems: list[str]) -> Incident:
    return make_incident(("db", "api"), title="Database down", severity="major")


@pytest.fixture
def other(systems: list[str]) -> Incident:
    """A second incident, for ids that belong to another incident."""
    return make_incident(("web",), title="Web slow")


@pytest.fixture
def update(incident: Incident) -> IncidentUpdate:
    return services.add_update(incident.pk, message="Looking into it", status_change="identified")


@pytest.fixture
def link(incident: Incident) -> IncidentLink:
    return services.add_link(incident.pk, url="https://status.example.com/1", label="Status")


def is_field_errors(data: Any) -> bool:
    """The documented 400 shape: ``{"field": ["message", ...]}``."""
    return (
        isinstance(data, dict)
        and bool(data)
        and all(
            isinstance(messages, list) and all(isinstance(m, str) for m in messages)
            for messages in data.values()
        )
    )


# -- list -------------------------------------------------------------------------------------


def test_list_shows_active_incidents_most_recently_updated_first(
    anon: APIClient, systems: list[str]
) -> None:
    first = make_incident(title="First")
    second = make_incident(title="Second")
    resolved = make_incident(title="Old")
    services.resolve_incident(resolved.pk)
    services.add_update(first.pk, message="still on it")

    response = anon.get("/api/incidents/")

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    assert [i["id"] for i in data["results"]] == [first.pk, second.pk]
    assert set(data["results"][0]) == INCIDENT_FIELDS


def test_list_include_resolved_adds_resolved_incidents(anon: APIClient, systems: list[str]) -> None:
    active = make_incident(title="Active")
    resolved = make_incident(title="Resolved")
    services.resolve_incident(resolved.pk)

    data = anon.get("/api/incidents/?include_resolved=true").json()

    assert {i["id"] for i in data["results"]} == {active.pk, resolved.pk}


def test_list_filters_by_status_severity_system_and_search(
    anon: APIClient, systems: list[str]
) -> None:
    db_major = make_incident(("db",), title="Database replication lag", severity="major")
    web_critical = make_incident(("web",), title="Web errors", severity="critical")
    resolved = make_incident(("db",), title="Database disk", severity="minor")
    services.resolve_incident(resolved.pk)

    def ids(query: str) -> set[str]:
        response = anon.get(f"/api/incidents/?{query}")
        assert response.status_code == 200
        return {i["id"] for i in response.json()["results"]}

    assert ids("severity=critical") == {web_critical.pk}
    assert ids("system=db") == {db_major.pk}
    assert ids("system=db&include_resolved=true") == {db_major.pk, resolved.pk}
    assert ids("status=resolved") == {resolved.pk}
    assert ids("search=DATABASE") == {db_major.pk}
    assert ids("search=database&include_resolved=true") == {db_major.pk, resolved.pk}


def test_list_orders_by_the_given_key(anon: APIClient, systems: list[str]) -> None:
    minor = make_incident(title="A", severity="minor")
    critical = make_incident(title="B", severity="critical")
    major = make_incident(title="C", severity="major")

    def order(ordering: str) -> list[str]:
        return [i["id"] for i in anon.get(f"/api/incidents/?ordering={ordering}").json()["results"]]

    assert order("created_at") == [minor.pk, critical.pk, major.pk]
    assert order("-created_at") == [major.pk, critical.pk, minor.pk]
    assert order("updated_at") == [minor.pk, critical.pk, major.pk]
    assert set(order("severity")) == set(order("-severity"))
    assert order("severity") == list(reversed(order("-severity")))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("ordering=title", "ordering"),
        ("status=broken", "status"),
        ("severity=huge", "severity"),
    ],
)
def test_invalid_list_filter_is_400(anon: APIClient, db: None, query: str, field: str) -> None:
    response = anon.get(f"/api/incidents/?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_list_page_size_is_capped_at_200(anon: APIClient, systems: list[str]) -> None:
    for n in range(3):
        make_incident(title=f"Incident {n}")

    data = anon.get("/api/incidents/?page_size=2").json()
    capped = anon.get("/api/incidents/?page_size=1000").json()

    assert data["count"] == 3
    assert len(data["results"]) == 2
    assert data["next"] is not None
    assert len(capped["results"]) == 3


def test_list_beyond_the_last_page_is_404(anon: APIClient, db: None) -> None:
    assert anon.get("/api/incidents/?page=5").status_code == 404


# -- create -----------------------------------------------------------------------------------


def test_manager_creates_an_incident_and_gets_its_detail(
    manager_client: APIClient, systems: list[str]
) -> None:
    response = post(
        manager_client,
        "/api/incidents/",
        {
            "title": "Database down",
            "severity": "critical",
            "system_ids": ["web", "db", "web"],
            "description": "Primary unreachable",
            "initial_message": "We are investigating.",
            "suppress_notifications": True,
            "health_override": "unhealthy",
        },
    )

    assert response.status_code == 201
    data = response.json()
    assert set(data) == DETAIL_FIELDS
    assert data["title"] == "Database down"
    assert data["status"] == "investigating"
    assert data["severity"] == "critical"
    assert data["system_ids"] == ["db", "web"]
    assert data["suppress_notifications"] is True
    assert data["health_override"] == "unhealthy"
    assert data["resolved_at"] is None
    assert data["links"] == []
    [initial] = data["updates"]
    assert initial["message"] == "We are investigating."
    assert initial["status_change"] == "investigating"
    assert initial["visibility"] == "public"
    assert initial["created_by_name"] == "Mona Manager"
    incident = Incident.objects.get(pk=data["id"])
    assert incident.title == "Database down"
    assert change_count("incident", incident.pk) == 1


def test_create_with_only_required_fields_uses_defaults(
    token_client: APIClient, systems: list[str]
) -> None:
    response = post(token_client, "/api/incidents/", VALID_CREATE)

    assert response.status_code == 201
    data = response.json()
    assert data["description"] is None
    assert data["suppress_notifications"] is False
    assert data["health_override"] is None
    assert data["updates"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": None}, "title"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"severity": None}, "severity"),
        ({"system_ids": []}, "system_ids"),
        ({"system_ids": "db"}, "system_ids"),
        ({"system_ids": [""]}, "system_ids"),
        ({"health_override": "down"}, "health_override"),
        ({"suppress_notifications": "perhaps"}, "suppress_notifications"),
        ({"status": "resolved"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_create_is_400_naming_the_field(
    manager_client: APIClient, systems: list[str], change: dict[str, Any], field: str
) -> None:
    response = post(manager_client, "/api/incidents/", {**VALID_CREATE, **change})

    assert response.status_code == 400
    assert field in response.json()
    assert not Incident.objects.exists()


@pytest.mark.parametrize("missing", ["title", "severity", "system_ids"])
def test_create_without_a_required_field_is_400(
    manager_client: APIClient, systems: list[str], missing: str
) -> None:
    payload = {k: v for k, v in VALID_CREATE.items() if k != missing}

    response = post(manager_client, "/api/incidents/", payload)

    assert response.status_code == 400
    assert missing in response.json()


def test_unknown_field_is_reported_as_unknown(
    manager_client: APIClient, systems: list[str]
) -> None:
    response = post(manager_client, "/api/incidents/", {**VALID_CREATE, "priority": 1})

    assert response.status_code == 400
    assert response.json() == {"priority": ["Unknown field."]}


def test_create_with_unknown_systems_is_400_listing_them(
    manager_client: APIClient, systems: list[str]
) -> None:
    response = post(
        manager_client,
        "/api/incidents/",
        {**VALID_CREATE, "system_ids": ["db", "ghost", "phantom"]},
    )

    assert response.status_code == 400
    message = " ".join(response.json()["system_ids"])
    assert "ghost" in message and "phantom" in message
    assert "db" not in message.replace("ids", "")
    assert not Incident.objects.exists()


MALFORMED = ['{"title": "x",', "not json", '{"title": "x"} trailing']


@pytest.mark.parametrize("text", [*MALFORMED, ""])
def test_malformed_json_is_400(manager_client: APIClient, systems: list[str], text: str) -> None:
    response = raw(manager_client, "POST", "/api/incidents/", text)

    assert response.status_code == 400
    assert not Incident.objects.exists()


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_json_error_has_the_documented_400_shape(
    manager_client: APIClient, systems: list[str], text: str
) -> None:
    """api.md: a 400 body is ``{"field": [messages]}`` or ``{"non_field_errors": [...]}``."""
    response = raw(manager_client, "POST", "/api/incidents/", text)

    assert is_field_errors(response.json()), response.json()


@pytest.mark.parametrize(
    "change",
    [{"system_ids": [""]}, {"system_ids": ["db", 7]}, {"title": ""}, {"severity": "x"}],
)
def test_invalid_create_error_maps_each_field_to_a_list_of_messages(
    manager_client: APIClient, systems: list[str], change: dict[str, Any]
) -> None:
    response = post(manager_client, "/api/incidents/", {**VALID_CREATE, **change})

    assert response.status_code == 400
    assert is_field_errors(response.json()), response.json()


@pytest.mark.parametrize("payload", [[VALID_CREATE], "text", 42, None])
def test_a_body_that_is_not_an_object_is_400(
    manager_client: APIClient, systems: list[str], payload: Any
) -> None:
    response = post(manager_client, "/api/incidents/", payload)

    assert response.status_code == 400
    assert not Incident.objects.exists()


# -- detail -----------------------------------------------------------------------------------


def test_detail_has_updates_and_links_oldest_first(
    manager_client: APIClient, incident: Incident
) -> None:
    first = services.add_update(incident.pk, message="first")
    second = services.add_update(incident.pk, message="second")
    link_a = services.add_link(incident.pk, url="https://a.example.com/")
    link_b = services.add_link(incident.pk, url="https://b.example.com/")
    IncidentUpdate.objects.filter(pk=second.pk).update(
        created_at=first.created_at - dt.timedelta(minutes=5)
    )

    response = manager_client.get(f"/api/incidents/{incident.pk}/")

    assert response.status_code == 200
    data = response.json()
    assert set(data) == DETAIL_FIELDS
    assert data["system_ids"] == ["api", "db"]
    assert [u["id"] for u in data["updates"]] == [second.pk, first.pk]
    assert [lk["id"] for lk in data["links"]] == [link_a.pk, link_b.pk]
    assert set(data["updates"][0]) == MANAGER_UPDATE_FIELDS
    assert set(data["links"][0]) == LINK_FIELDS
    assert data["links"][0]["incident_id"] == incident.pk


def test_unknown_incident_is_404(anon: APIClient, db: None) -> None:
    response = anon.get("/api/incidents/00000000-0000-0000-0000-000000000000/")

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


# -- update (PATCH) ---------------------------------------------------------------------------


def test_manager_patches_an_incident(manager_client: APIClient, incident: Incident) -> None:
    response = patch(
        manager_client,
        f"/api/incidents/{incident.pk}/",
        {
            "title": "Database degraded",
            "severity": "minor",
            "system_ids": ["web"],
            "description": None,
            "suppress_notifications": True,
            "health_override": "degraded",
        },
    )

    assert response.status_code == 200
    data = response.json()
    assert set(data) == DETAIL_FIELDS
    assert data["title"] == "Database degraded"
    assert data["severity"] == "minor"
    assert data["system_ids"] == ["web"]
    assert data["health_override"] == "degraded"
    assert data["suppress_notifications"] is True
    assert data["status"] == "investigating"
    assert change_count("incident", incident.pk) == 2


def test_patch_with_status_is_400_and_changes_nothing(
    manager_client: APIClient, incident: Incident
) -> None:
    response = patch(
        manager_client,
        f"/api/incidents/{incident.pk}/",
        {"status": "resolved", "title": "Renamed"},
    )

    assert response.status_code == 400
    assert "status" in response.json()
    incident.refresh_from_db()
    assert incident.status == "investigating"
    assert incident.title == "Database down"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"severity": "huge"}, "severity"),
        ({"system_ids": []}, "system_ids"),
        ({"health_override": "offline"}, "health_override"),
        ({"resolved_at": "2024-01-01T00:00:00Z"}, "resolved_at"),
        ({"id": "another"}, "id"),
    ],
)
def test_invalid_patch_is_400(
    manager_client: APIClient, incident: Incident, payload: dict[str, Any], field: str
) -> None:
    response = patch(manager_client, f"/api/incidents/{incident.pk}/", payload)

    assert response.status_code == 400
    assert field in response.json()
    assert change_count("incident", incident.pk) == 1


def test_patch_with_unknown_systems_is_400_listing_them(
    manager_client: APIClient, incident: Incident
) -> None:
    response = patch(
        manager_client, f"/api/incidents/{incident.pk}/", {"system_ids": ["web", "ghost"]}
    )

    assert response.status_code == 400
    assert "ghost" in " ".join(response.json()["system_ids"])
    assert manager_client.get(f"/api/incidents/{incident.pk}/").json()["system_ids"] == [
        "api",
        "db",
    ]


def test_patching_an_unknown_incident_is_404(manager_client: APIClient, db: None) -> None:
    assert patch(manager_client, "/api/incidents/nope/", {"title": "X"}).status_code == 404


def test_malformed_json_on_patch_is_400(manager_client: APIClient, incident: Incident) -> None:
    response = raw(manager_client, "PATCH", f"/api/incidents/{incident.pk}/", "{'title': 'x'}")

    assert response.status_code == 400
    assert Incident.objects.get(pk=incident.pk).title == "Database down"


# -- delete -----------------------------------------------------------------------------------


def test_manager_deletes_an_incident(manager_client: APIClient, incident: Incident) -> None:
    response = manager_client.delete(f"/api/incidents/{incident.pk}/")

    assert response.status_code == 204
    assert not Incident.objects.filter(pk=incident.pk).exists()
    assert manager_client.get(f"/api/incidents/{incident.pk}/").status_code == 404
    assert manager_client.delete(f"/api/incidents/{incident.pk}/").status_code == 404


# -- resolve ----------------------------------------------------------------------------------


def test_resolve_sets_resolved_and_adds_the_message(
    manager_client: APIClient, incident: Incident
) -> None:
    response = post(manager_client, f"/api/incidents/{incident.pk}/resolve/", {"message": "Fixed."})

    assert response.status_code == 200
    data = response.json()
    assert set(data) == DETAIL_FIELDS
    assert data["status"] == "resolved"
    assert data["resolved_at"] is not None
    assert data["updates"][-1]["message"] == "Fixed."
    assert data["updates"][-1]["status_change"] == "resolved"


def test_resolve_without_a_body_uses_the_default_message(
    manager_client: APIClient, incident: Incident
) -> None:
    response = manager_client.post(f"/api/incidents/{incident.pk}/resolve/")

    assert response.status_code == 200
    assert response.json()["updates"][-1]["message"] == "Incident resolved"


def test_resolving_a_resolved_incident_adds_no_update(
    manager_client: APIClient, incident: Incident
) -> None:
    post(manager_client, f"/api/incidents/{incident.pk}/resolve/", {})
    updates = update_count(incident.pk)
    changes = change_count("incident", incident.pk)

    response = post(manager_client, f"/api/incidents/{incident.pk}/resolve/", {"message": "Again"})

    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert update_count(incident.pk) == updates
    assert change_count("incident", incident.pk) == changes


def test_resolving_an_unknown_incident_is_404(manager_client: APIClient, db: None) -> None:
    assert post(manager_client, "/api/incidents/nope/resolve/", {}).status_code == 404


def test_resolve_with_an_unknown_field_is_400(
    manager_client: APIClient, incident: Incident
) -> None:
    response = post(manager_client, f"/api/incidents/{incident.pk}/resolve/", {"reason": "x"})

    assert response.status_code == 400
    assert response.json() == {"reason": ["Unknown field."]}
    assert Incident.objects.get(pk=incident.pk).status == "investigating"


# -- timeline updates -------------------------------------------------------------------------


def test_manager_adds_an_update_that_changes_the_status(
    manager_client: APIClient, incident: Incident
) -> None:
    response = post(
        manager_client,
        f"/api/incidents/{incident.pk}/updates/",
        {"message": "Cause found", "status_change": "identified", "visibility": "logged_in"},
    )

    assert response.status_code == 201
    data = response.json()
    assert set(data) == MANAGER_UPDATE_FIELDS
    assert data["incident_id"] == incident.pk
    assert data["message"] == "Cause found"
    assert data["status_change"] == "identified"
    assert data["visibility"] == "logged_in"
    assert data["edited_at"] is None
    assert data["edit_history"] == []
    assert data["created_by_name"] == "Mona Manager"
    assert isinstance(data["created_by"], int)
    assert Incident.objects.get(pk=incident.pk).status == "identified"


def test_an_update_with_status_resolved_resolves(
    manager_client: APIClient, incident: Incident
) -> None:
    post(
        manager_client,
        f"/api/incidents/{incident.pk}/updates/",
        {"message": "Done", "status_change": "resolved"},
    )

    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_at is not None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"message": ""}, "message"),
        ({"message": "   "}, "message"),
        ({}, "message"),
        ({"message": "x", "status_change": "done"}, "status_change"),
        ({"message": "x", "visibility": "secret"}, "visibility"),
        ({"message": "x", "created_by": 1}, "created_by"),
    ],
)
def test_invalid_update_is_400(
    manager_client: APIClient, incident: Incident, payload: dict[str, Any], field: str
) -> None:
    response = post(manager_client, f"/api/incidents/{incident.pk}/updates/", payload)

    assert response.status_code == 400
    assert field in response.json()
    assert update_count(incident.pk) == 0


def test_adding_an_update_to_an_unknown_incident_is_404(
    manager_client: APIClient, db: None
) -> None:
    response = post(manager_client, "/api/incidents/nope/updates/", {"message": "x"})

    assert response.status_code == 404


def test_editing_an_update_keeps_the_pre_edit_values(
    manager_client: APIClient, incident: Incident, update: IncidentUpdate
) -> None:
    response = patch(
        manager_client,
        f"/api/incidents/{incident.pk}/updates/{update.pk}/",
        {"message": "Root cause found", "visibility": "internal"},
    )

    assert response.status_code == 200
    data = response.json()
    assert data["message"] == "Root cause found"
    assert data["visibility"] == "internal"
    assert data["edited_at"] is not None
    [previous] = data["edit_history"]
    assert previous["message"] == "Looking into it"
    assert previous["visibility"] == "public"


def test_moving_an_update_back_in_time_rederives_the_status(
    manager_client: APIClient, incident: Incident, update: IncidentUpdate
) -> None:
    later = services.add_update(incident.pk, message="Fix deployed", status_change="monitoring")
    earlier = (update.created_at - dt.timedelta(hours=1)).isoformat()

    response = patch(
        manager_client,
        f"/api/incidents/{incident.pk}/updates/{later.pk}/",
        {"created_at": earlier},
    )

    assert response.status_code == 200
    assert Incident.objects.get(pk=incident.pk).status == "identified"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"message": ""}, "message"),
        ({"status_change": "over"}, "status_change"),
        ({"visibility": "everyone"}, "visibility"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"incident_id": "x"}, "incident_id"),
    ],
)
def test_invalid_update_edit_is_400(
    manager_client: APIClient,
    incident: Incident,
    update: IncidentUpdate,
    payload: dict[str, Any],
    field: str,
) -> None:
    response = patch(manager_client, f"/api/incidents/{incident.pk}/updates/{update.pk}/", payload)

    assert response.status_code == 400
    assert field in response.json()
    assert IncidentUpdate.objects.get(pk=update.pk).edited_at is None


def test_an_update_of_another_incident_is_404(
    manager_client: APIClient, other: Incident, update: IncidentUpdate
) -> None:
    path = f"/api/incidents/{other.pk}/updates/{update.pk}/"

    assert patch(manager_client, path, {"message": "hijack"}).status_code == 404
    assert manager_client.delete(path).status_code == 404
    assert IncidentUpdate.objects.get(pk=update.pk).message == "Looking into it"


def test_an_unknown_update_is_404(manager_client: APIClient, incident: Incident) -> None:
    path = f"/api/incidents/{incident.pk}/updates/nope/"

    assert patch(manager_client, path, {"message": "x"}).status_code == 404
    assert manager_client.delete(path).status_code == 404


def test_deleting_the_status_update_rederives_the_status(
    manager_client: APIClient, incident: Incident, update: IncidentUpdate
) -> None:
    services.add_update(incident.pk, message="earlier", status_change="fixing")
    IncidentUpdate.objects.filter(status_change="fixing").update(
        created_at=timezone.now() - dt.timedelta(hours=2)
    )
    latest = services.add_update(incident.pk, message="Watching", status_change="monitoring")

    response = manager_client.delete(f"/api/incidents/{incident.pk}/updates/{latest.pk}/")

    assert response.status_code == 204
    assert not IncidentUpdate.objects.filter(pk=latest.pk).exists()
    assert Incident.objects.get(pk=incident.pk).status == "identified"


# -- links ------------------------------------------------------------------------------------


def test_manager_adds_a_link(manager_client: APIClient, incident: Incident) -> None:
    response = post(
        manager_client,
        f"/api/incidents/{incident.pk}/links/",
        {"url": "https://grafana.example.com/d/1", "label": "Dashboard", "visibility": "internal"},
    )

    assert response.status_code == 201
    data = response.json()
    assert set(data) == LINK_FIELDS
    assert data["incident_id"] == incident.pk
    assert data["url"] == "https://grafana.example.com/d/1"
    assert data["label"] == "Dashboard"
    assert data["visibility"] == "internal"
    assert link_count(incident.pk) == 1


def test_a_duplicate_link_url_is_409(
    manager_client: APIClient, incident: Incident, link: IncidentLink
) -> None:
    response = post(manager_client, f"/api/incidents/{incident.pk}/links/", {"url": link.url})

    assert response.status_code == 409
    assert set(response.json()) == {"detail"}
    assert link_count(incident.pk) == 1


def test_the_same_url_on_another_incident_is_fine(
    manager_client: APIClient, other: Incident, link: IncidentLink
) -> None:
    response = post(manager_client, f"/api/incidents/{other.pk}/links/", {"url": link.url})

    assert response.status_code == 201


def test_changing_a_link_to_a_url_it_already_has_is_409(
    manager_client: APIClient, incident: Incident, link: IncidentLink
) -> None:
    second = services.add_link(incident.pk, url="https://status.example.com/2")

    response = patch(
        manager_client, f"/api/incidents/{incident.pk}/links/{second.pk}/", {"url": link.url}
    )

    assert response.status_code == 409
    assert IncidentLink.objects.get(pk=second.pk).url == "https://status.example.com/2"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://files.example.com/x"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": ""}, "url"),
        ({}, "url"),
        ({"url": "https://example.com/" + "a" * 2000}, "url"),
        ({"url": "https://example.com/", "label": "x" * 121}, "label"),
        ({"url": "https://example.com/", "visibility": "friends"}, "visibility"),
        ({"url": "https://example.com/", "target": "_blank"}, "target"),
    ],
)
def test_invalid_link_is_400(
    manager_client: APIClient, incident: Incident, payload: dict[str, Any], field: str
) -> None:
    response = post(manager_client, f"/api/incidents/{incident.pk}/links/", payload)

    assert response.status_code == 400
    assert field in response.json()
    assert link_count(incident.pk) == 0


def test_adding_a_link_to_an_unknown_incident_is_404(manager_client: APIClient, db: None) -> None:
    response = post(manager_client, "/api/incidents/nope/links/", {"url": "https://e.com/"})

    assert response.status_code == 404


def test_manager_edits_a_link(
    manager_client: APIClient, incident: Incident, link: IncidentLink
) -> None:
    response = patch(
        manager_client,
        f"/api/incidents/{incident.pk}/links/{link.pk}/",
        {"label": "Status page", "visibility": "logged_in", "url": "http://status.example.com/"},
    )

    assert response.status_code == 200
    data = response.json()
    assert data["label"] == "Status page"
    assert data["visibility"] == "logged_in"
    assert data["url"] == "http://status.example.com/"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"label": None}, "label"),
        ({"url": "mailto:ops@example.com"}, "url"),
        ({"visibility": "all"}, "visibility"),
        ({"incident_id": "x"}, "incident_id"),
    ],
)
def test_invalid_link_edit_is_400(
    manager_client: APIClient,
    incident: Incident,
    link: IncidentLink,
    payload: dict[str, Any],
    field: str,
) -> None:
    response = patch(manager_client, f"/api/incidents/{incident.pk}/links/{link.pk}/", payload)

    assert response.status_code == 400
    assert field in response.json()
    link.refresh_from_db()
    assert (link.label, link.url) == ("Status", "https://status.example.com/1")


def test_a_link_of_another_incident_is_404(
    manager_client: APIClient, other: Incident, link: IncidentLink
) -> None:
    path = f"/api/incidents/{other.pk}/links/{link.pk}/"

    assert patch(manager_client, path, {"label": "hijack"}).status_code == 404
    assert manager_client.delete(path).status_code == 404
    assert IncidentLink.objects.get(pk=link.pk).label == "Status"


def test_manager_removes_a_link(
    manager_client: APIClient, incident: Incident, link: IncidentLink
) -> None:
    response = manager_client.delete(f"/api/incidents/{incident.pk}/links/{link.pk}/")

    assert response.status_code == 204
    assert link_count(incident.pk) == 0
    assert (
        manager_client.delete(f"/api/incidents/{incident.pk}/links/{link.pk}/").status_code == 404
    )


# -- history ----------------------------------------------------------------------------------


def test_history_lists_the_changes_seq_ascending(
    manager_client: APIClient, incident: Incident
) -> None:
    services.add_update(incident.pk, message="x", status_change="identified")
    services.update_incident(incident.pk, severity="critical")

    response = manager_client.get(f"/api/incidents/{incident.pk}/history/")

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    assert [c["seq"] for c in data["results"]] == [1, 2, 3]
    assert data["results"][0]["prev"] is None
    assert data["results"][1]["changed_fields"] == ["status"]
    assert data["results"][2]["delta"] == {"severity": "critical"}
    assert all(c["kind"] == "incident" and c["entity_id"] == incident.pk for c in data["results"])


def test_history_is_paginated(manager_client: APIClient, incident: Incident) -> None:
    for severity in ("critical", "minor", "major", "critical"):
        services.update_incident(incident.pk, severity=severity)

    data = manager_client.get(f"/api/incidents/{incident.pk}/history/?page_size=2&page=3").json()

    assert data["count"] == 5
    assert [c["seq"] for c in data["results"]] == [5]
    assert data["previous"] is not None and data["next"] is None


def test_history_of_a_deleted_incident_ends_with_its_tombstone(
    manager_client: APIClient, incident: Incident
) -> None:
    manager_client.delete(f"/api/incidents/{incident.pk}/")

    response = manager_client.get(f"/api/incidents/{incident.pk}/history/")

    assert response.status_code == 200
    assert response.json()["results"][-1]["next"] is None


def test_history_of_an_unknown_incident_is_404(manager_client: APIClient, db: None) -> None:
    assert manager_client.get("/api/incidents/nope/history/").status_code == 404


def test_history_needs_the_manage_permission(
    user_client: APIClient, anon: APIClient, incident: Incident
) -> None:
    assert user_client.get(f"/api/incidents/{incident.pk}/history/").status_code == 403
    anonymous = anon.get(f"/api/incidents/{incident.pk}/history/")
    assert anonymous.status_code == 401
    assert "WWW-Authenticate" in anonymous.headers


# -- health overrides -------------------------------------------------------------------------


def test_health_overrides_of_active_incidents_by_system(
    manager_client: APIClient, systems: list[str]
) -> None:
    down = make_incident(("db", "api"), title="DB down", health_override="unhealthy")
    make_incident(("db",), title="No override")
    old = make_incident(("web",), title="Old", health_override="degraded")
    services.resolve_incident(old.pk)

    response = manager_client.get("/api/incidents/health-overrides/?system_ids=db,web")

    assert response.status_code == 200
    assert response.json() == {
        "overrides": {
            "db": [{"status": "unhealthy", "incident_id": down.pk, "incident_title": "DB down"}]
        }
    }


def test_health_overrides_without_system_ids_is_400(manager_client: APIClient, db: None) -> None:
    response = manager_client.get("/api/incidents/health-overrides/")

    assert response.status_code == 400
    assert "system_ids" in response.json()


def test_health_overrides_need_the_manage_permission(
    user_client: APIClient, anon: APIClient, systems: list[str]
) -> None:
    assert user_client.get("/api/incidents/health-overrides/?system_ids=db").status_code == 403
    assert anon.get("/api/incidents/health-overrides/?system_ids=db").status_code == 401


# -- authentication and permissions on every write --------------------------------------------

WRITES = [
    ("post", "/api/incidents/", VALID_CREATE),
    ("patch", "/api/incidents/{incident}/", {"title": "Renamed"}),
    ("delete", "/api/incidents/{incident}/", None),
    ("post", "/api/incidents/{incident}/resolve/", {}),
    ("post", "/api/incidents/{incident}/updates/", {"message": "x"}),
    ("patch", "/api/incidents/{incident}/updates/{update}/", {"message": "edited"}),
    ("delete", "/api/incidents/{incident}/updates/{update}/", None),
    ("post", "/api/incidents/{incident}/links/", {"url": "https://new.example.com/"}),
    ("patch", "/api/incidents/{incident}/links/{link}/", {"label": "edited"}),
    ("delete", "/api/incidents/{incident}/links/{link}/", None),
    ("post", "/api/incidents/bulk-resolve/", {"ids": ["{incident}"]}),
    ("post", "/api/incidents/bulk-delete/", {"ids": ["{incident}"]}),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _incident_state(incident_id: str) -> list[Any]:
    return [
        list(Incident.objects.values_list("id", "title", "status", "updated_at")),
        list(IncidentUpdate.objects.filter(incident_id=incident_id).values_list("id", "message")),
        list(IncidentLink.objects.filter(incident_id=incident_id).values_list("id", "label")),
        change_count("incident", incident_id),
    ]


@pytest.fixture
def ids(incident: Incident, update: IncidentUpdate, link: IncidentLink) -> dict[str, str]:
    return {"incident": incident.pk, "update": update.pk, "link": link.pk}


@pytest.mark.parametrize(("method", "path", "payload"), WRITES)
def test_anonymous_write_is_401_with_a_challenge(
    anon: APIClient, ids: dict[str, str], method: str, path: str, payload: Any
) -> None:
    before = _incident_state(ids["incident"])

    response = getattr(anon, method)(_fill(path, ids), _fill(payload, ids), format="json")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Token")
    assert set(response.json()) == {"detail"}
    assert _incident_state(ids["incident"]) == before


@pytest.mark.parametrize(("method", "path", "payload"), WRITES)
def test_write_without_the_manage_permission_is_403(
    user_client: APIClient, ids: dict[str, str], method: str, path: str, payload: Any
) -> None:
    before = _incident_state(ids["incident"])

    response = getattr(user_client, method)(_fill(path, ids), _fill(payload, ids), format="json")

    assert response.status_code == 403
    assert set(body(response)) == {"detail"}
    assert _incident_state(ids["incident"]) == before


@pytest.mark.parametrize(("method", "path", "payload"), WRITES)
def test_every_write_works_with_a_token(
    token_client: APIClient, ids: dict[str, str], method: str, path: str, payload: Any
) -> None:
    before = _incident_state(ids["incident"])

    response = getattr(token_client, method)(_fill(path, ids), _fill(payload, ids), format="json")

    assert response.status_code in {200, 201, 204}
    assert _incident_state(ids["incident"]) != before


def test_a_catalog_manager_may_not_write_incidents(
    db: None, systems: list[str], incident: Incident
) -> None:
    from django.contrib.auth.models import Permission

    from tests.api.helpers import make_user

    user = make_user("carla")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="catalog", codename="manage_catalog")
    )
    client = APIClient()
    client.force_login(user)

    assert patch(client, f"/api/incidents/{incident.pk}/", {"title": "x"}).status_code == 403
    assert client.get(f"/api/incidents/{incident.pk}/history/").status_code == 403


def test_superuser_writes_incidents(superuser_client: APIClient, systems: list[str]) -> None:
    assert post(superuser_client, "/api/incidents/", VALID_CREATE).status_code == 201


def test_token_write_is_attributed_to_the_token_user(
    token_client: APIClient, manager: Any, incident: Incident
) -> None:
    response = post(token_client, f"/api/incidents/{incident.pk}/updates/", {"message": "hi"})

    assert response.json()["created_by"] == manager.pk
    history = token_client.get(f"/api/incidents/{incident.pk}/history/").json()
    assert history["count"] == 1  # a message-only update changes no reactive field
    resolved = post(token_client, f"/api/incidents/{incident.pk}/resolve/", {})
    assert resolved.status_code == 200
    last = token_client.get(f"/api/incidents/{incident.pk}/history/").json()["results"][-1]
    assert last["actor"] == {"type": "user", "id": str(manager.pk), "name": "Mona Manager"}


# -- never a 500 for bad input: NUL characters (PostgreSQL text cannot hold them) -------------

NUL_PATHS = [
    ("get", "/api/incidents/a%00b/", None),
    ("get", "/api/incidents/a%00b/history/", None),
    ("patch", "/api/incidents/a%00b/", {"title": "Renamed"}),
    ("delete", "/api/incidents/a%00b/", None),
    ("post", "/api/incidents/a%00b/resolve/", {}),
    ("post", "/api/incidents/a%00b/updates/", {"message": "x"}),
    ("post", "/api/incidents/a%00b/links/", {"url": "https://example.com/"}),
    ("patch", "/api/incidents/{incident}/updates/a%00b/", {"message": "x"}),
    ("delete", "/api/incidents/{incident}/updates/a%00b/", None),
    ("patch", "/api/incidents/{incident}/links/a%00b/", {"label": "x"}),
    ("delete", "/api/incidents/{incident}/links/a%00b/", None),
]


@pytest.mark.parametrize(("method", "path", "payload"), NUL_PATHS)
def test_an_id_with_a_nul_character_is_404(
    manager_client: APIClient, incident: Incident, method: str, path: str, payload: Any
) -> None:
    manager_client.raise_request_exception = False

    response = getattr(manager_client, method)(
        path.format(incident=incident.pk), payload, format="json"
    )

    assert response.status_code == 404


def test_health_overrides_with_a_nul_character_is_not_a_server_error(
    manager_client: APIClient, incident: Incident
) -> None:
    manager_client.raise_request_exception = False

    response = manager_client.get("/api/incidents/health-overrides/?system_ids=db,a%00b")

    assert response.status_code < 500


# -- lock timeouts ----------------------------------------------------------------------------


def test_a_lock_timeout_is_503_with_retry_after(
    manager_client: APIClient,
    incident: Incident,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    from checkstack.errors import LockTimeout

    settings.CHECKSTACK_RETRY_AFTER = 7

    def busy(*args: Any, **kwargs: Any) -> Incident:
        raise LockTimeout(f"entity:incident:{incident.pk}", 5)

    monkeypatch.setattr(services, "resolve_incident", busy)

    response = post(manager_client, f"/api/incidents/{incident.pk}/resolve/", {})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert set(response.json()) == {"detail"}
