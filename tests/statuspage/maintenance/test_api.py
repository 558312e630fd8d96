"""``/api/maintenances/``: strict input, filters, pagination, permissions, visibility, history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from statuspage.maintenance import services
from statuspage.models import Maintenance, MaintenanceUpdate
from tests.api.helpers import change_count, patch, post, raw
from tests.api.test_visibility import SEES
from tests.statuspage.maintenance.helpers import HOUR, make_maintenance, reload, running

pytestmark = pytest.mark.django_db

# The Maintenance and Update shapes of the API, as documented in docs/status-page.md.
FIELDS = {"id", "title", "description", "status", "visibility", "system_ids", "updates"}
FIELDS |= {"starts_at", "ends_at", "started_at", "finished_at", "created_at", "updated_at"}
UPDATE_FIELDS = {"id", "maintenance_id", "message", "status_change", "visibility"}
UPDATE_FIELDS |= {"created_at", "created_by_name"}
VISIBILITIES = ("public", "logged_in", "internal")


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def body_for(**fields: Any) -> dict[str, Any]:
    starts_at = timezone.now() + HOUR
    return {
        "title": "Database upgrade",
        "system_ids": ["db"],
        "starts_at": iso(starts_at),
        "ends_at": iso(starts_at + HOUR),
        **fields,
    }


@pytest.fixture
def per_visibility(systems: list[str], manager: Any) -> dict[str, Maintenance]:
    """One maintenance per visibility, each with one update per visibility (by the manager)."""
    made = {}
    for visibility in VISIBILITIES:
        maintenance = make_maintenance(["db"], title=visibility, visibility=visibility)
        for update_visibility in VISIBILITIES:
            services.add_update(
                maintenance.pk,
                message=f"{update_visibility} note",
                visibility=update_visibility,
                actor=manager,
            )
        made[visibility] = maintenance
    return made


# -- reads and visibility -------------------------------------------------------------------


@pytest.mark.parametrize("audience", list(SEES))
def test_the_list_shows_what_the_audience_may_see(
    request: pytest.FixtureRequest, per_visibility: dict[str, Maintenance], audience: str
) -> None:
    client: APIClient = request.getfixturevalue(audience)

    response = client.get("/api/maintenances/")

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == len(SEES[audience])
    assert {m["visibility"] for m in data["results"]} == SEES[audience]
    for maintenance in data["results"]:
        assert set(maintenance) == FIELDS
        assert {u["visibility"] for u in maintenance["updates"]} == SEES[audience]


@pytest.mark.parametrize("audience", list(SEES))
@pytest.mark.parametrize("visibility", VISIBILITIES)
def test_a_detail_the_audience_may_not_see_is_not_found(
    request: pytest.FixtureRequest,
    per_visibility: dict[str, Maintenance],
    audience: str,
    visibility: str,
) -> None:
    client: APIClient = request.getfixturevalue(audience)

    response = client.get(f"/api/maintenances/{per_visibility[visibility].pk}/")

    if visibility in SEES[audience]:
        assert response.status_code == 200
        updates = response.json()["updates"]
        assert [u["visibility"] for u in updates] == [
            v for v in VISIBILITIES if v in SEES[audience]
        ]
        assert set(updates[0]) == UPDATE_FIELDS
    else:
        assert response.status_code == 404


def test_authors_are_named_to_logged_in_readers_only(
    anon: APIClient, user_client: APIClient, per_visibility: dict[str, Maintenance]
) -> None:
    path = f"/api/maintenances/{per_visibility['public'].pk}/"

    assert anon.get(path).json()["updates"][0]["created_by_name"] is None
    assert user_client.get(path).json()["updates"][0]["created_by_name"] == "Mona Manager"


@override_settings(CHECKSTACK_PUBLIC_READ=False)
def test_reads_need_a_login_when_public_read_is_off(
    anon: APIClient, user_client: APIClient, per_visibility: dict[str, Maintenance]
) -> None:
    assert anon.get("/api/maintenances/").status_code == 401
    assert user_client.get("/api/maintenances/").json()["count"] == 2


def test_the_list_filters_orders_and_pages(token_client: APIClient, systems: list[str]) -> None:
    first = make_maintenance(["db"], title="First")
    second = running(["api"], title="Second", visibility="internal")
    services.update_maintenance(second.pk, ends_at=second.ends_at + 5 * HOUR)
    third = make_maintenance(["db", "web"], title="Third")
    services.update_maintenance(
        third.pk, starts_at=first.starts_at + HOUR, ends_at=first.ends_at + 2 * HOUR
    )

    def titles(query: str) -> list[str]:
        response = token_client.get(f"/api/maintenances/?{query}")
        assert response.status_code == 200, response.content
        return [m["title"] for m in response.json()["results"]]

    assert titles("ordering=starts_at") == ["First", "Second", "Third"]
    assert titles("") == ["Third", "Second", "First"]
    assert titles("status=in_progress") == ["Second"]
    assert titles("system=db&ordering=starts_at") == ["First", "Third"]
    assert titles("visibility=internal") == ["Second"]
    assert titles("page_size=1&page=2&ordering=starts_at") == ["Second"]
    for bad in ("status=done", "visibility=everyone", "ordering=title"):
        assert token_client.get(f"/api/maintenances/?{bad}").status_code == 400


# -- writes ---------------------------------------------------------------------------------


def test_a_manager_schedules_a_maintenance(token_client: APIClient, systems: list[str]) -> None:
    body = body_for(system_ids=["web", "db"], visibility="logged_in", description="Details")

    response = post(token_client, "/api/maintenances/", body)

    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == FIELDS
    assert data["status"] == "scheduled"
    assert data["system_ids"] == ["db", "web"]
    assert (data["starts_at"], data["ends_at"]) == (body["starts_at"], body["ends_at"])
    assert data["visibility"] == "logged_in"
    assert change_count("maintenance", data["id"]) == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ends_at": "start"}, "ends_at"),
        ({"ends_at": "before"}, "ends_at"),
        ({"system_ids": ["db", "ghost"]}, "system_ids"),
        ({"system_ids": []}, "system_ids"),
        ({"visibility": "secret"}, "visibility"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"title": ""}, "title"),
        ({"status": "in_progress"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_written(
    token_client: APIClient, systems: list[str], fields: dict[str, Any], field: str
) -> None:
    body = body_for(**fields)
    if fields.get("ends_at") == "start":
        body["ends_at"] = body["starts_at"]
    elif fields.get("ends_at") == "before":
        body["ends_at"] = iso(timezone.now())

    response = post(token_client, "/api/maintenances/", body)

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Maintenance.objects.exists()


def test_malformed_json_is_a_400(token_client: APIClient, db: None) -> None:
    response = raw(token_client, "POST", "/api/maintenances/", '{"title": ')

    assert response.status_code == 400
    assert "non_field_errors" in response.json()


WRITES = [
    ("post", "", "new"),
    ("patch", "{id}/", {"title": "Renamed"}),
    ("delete", "{id}/", None),
    ("post", "{id}/start/", {}),
    ("post", "{id}/cancel/", {}),
    ("post", "{id}/updates/", {"message": "Note"}),
]


@pytest.mark.parametrize(("client_name", "code"), [("anon", 401), ("user_client", 403)])
@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_writes_need_the_manage_permission(
    request: pytest.FixtureRequest,
    systems: list[str],
    client_name: str,
    code: int,
    method: str,
    path: str,
    body: Any,
) -> None:
    client: APIClient = request.getfixturevalue(client_name)
    maintenance = make_maintenance()
    url = f"/api/maintenances/{path.format(id=maintenance.pk)}"

    response = getattr(client, method)(url, body_for() if body == "new" else body, format="json")

    assert response.status_code == code
    assert Maintenance.objects.count() == 1
    assert change_count("maintenance", maintenance.pk) == 1
    assert not MaintenanceUpdate.objects.exists()
    assert reload(maintenance).title == "Database upgrade"


def test_patching_checks_the_window_against_the_stored_start(
    token_client: APIClient, systems: list[str]
) -> None:
    maintenance = make_maintenance()
    path = f"/api/maintenances/{maintenance.pk}/"

    refused = patch(token_client, path, {"ends_at": iso(maintenance.starts_at - HOUR)})
    accepted = patch(token_client, path, {"ends_at": iso(maintenance.ends_at + HOUR)})

    assert refused.status_code == 400
    assert refused.json() == {"ends_at": ["Must be after starts_at."]}
    assert accepted.status_code == 200
    assert accepted.json()["ends_at"] == iso(maintenance.ends_at + HOUR)


def test_patching_the_status_is_refused(token_client: APIClient, systems: list[str]) -> None:
    maintenance = make_maintenance()

    response = patch(token_client, f"/api/maintenances/{maintenance.pk}/", {"status": "x"})

    assert response.status_code == 400
    assert list(response.json()) == ["status"]


def test_deleting_answers_204_then_404(token_client: APIClient, systems: list[str]) -> None:
    path = f"/api/maintenances/{make_maintenance().pk}/"

    assert token_client.delete(path).status_code == 204
    assert token_client.delete(path).status_code == 404
    assert token_client.get(path).status_code == 404


# -- transitions and the timeline -----------------------------------------------------------


def test_start_complete_and_their_messages(token_client: APIClient, systems: list[str]) -> None:
    path = f"/api/maintenances/{make_maintenance().pk}/"

    started = post(token_client, f"{path}start/", {"message": "Going down now"})
    completed = post(token_client, f"{path}complete/", {})

    assert started.status_code == 200
    assert started.json()["status"] == "in_progress"
    assert completed.json()["status"] == "completed"
    assert [(u["status_change"], u["message"]) for u in completed.json()["updates"]] == [
        ("in_progress", "Going down now"),
        ("completed", "Scheduled maintenance has been completed."),
    ]


@pytest.mark.parametrize("transition", ["start", "complete", "cancel"])
def test_a_transition_the_rules_forbid_is_a_409(
    token_client: APIClient, systems: list[str], transition: str
) -> None:
    maintenance = running()
    services.complete_maintenance(maintenance.pk)

    response = post(token_client, f"/api/maintenances/{maintenance.pk}/{transition}/", {})

    assert response.status_code == 409
    assert "completed" in response.json()["detail"]
    assert reload(maintenance).status == "completed"


def test_transitions_take_only_a_message(token_client: APIClient, systems: list[str]) -> None:
    maintenance = make_maintenance()

    response = post(token_client, f"/api/maintenances/{maintenance.pk}/cancel/", {"why": "x"})

    assert response.status_code == 400
    assert reload(maintenance).status == "scheduled"


def test_adding_an_update(token_client: APIClient, systems: list[str]) -> None:
    maintenance = make_maintenance()

    response = post(
        token_client,
        f"/api/maintenances/{maintenance.pk}/updates/",
        {"message": "Starting early", "status_change": "in_progress", "visibility": "internal"},
    )

    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == UPDATE_FIELDS
    assert (data["maintenance_id"], data["status_change"], data["visibility"]) == (
        maintenance.pk,
        "in_progress",
        "internal",
    )
    assert reload(maintenance).status == "in_progress"


def test_an_update_with_a_forbidden_transition_is_a_409_and_adds_nothing(
    token_client: APIClient, systems: list[str]
) -> None:
    maintenance = make_maintenance()

    response = post(
        token_client,
        f"/api/maintenances/{maintenance.pk}/updates/",
        {"message": "Done?", "status_change": "completed"},
    )

    assert response.status_code == 409
    assert not MaintenanceUpdate.objects.exists()


def test_writes_to_an_unknown_maintenance_are_404(token_client: APIClient, db: None) -> None:
    for path, body in (
        ("nope/", {"title": "x"}),
        ("nope/start/", {}),
        ("nope/updates/", {"message": "x"}),
    ):
        method = patch if path == "nope/" else post
        assert method(token_client, f"/api/maintenances/{path}", body).status_code == 404


# -- history --------------------------------------------------------------------------------


def test_history_lists_the_changes_for_managers(
    token_client: APIClient, user_client: APIClient, anon: APIClient, systems: list[str]
) -> None:
    maintenance = running()
    path = f"/api/maintenances/{maintenance.pk}/history/"

    response = token_client.get(path)

    assert response.status_code == 200
    changes = response.json()["results"]
    assert [c["seq"] for c in changes] == [1, 2]
    assert changes[1]["delta"] == {"status": "in_progress"}
    assert user_client.get(path).status_code == 403
    assert anon.get(path).status_code == 401
    assert token_client.get("/api/maintenances/nope/history/").status_code == 404


def test_history_outlives_the_maintenance(token_client: APIClient, systems: list[str]) -> None:
    maintenance = make_maintenance()
    services.delete_maintenance(maintenance.pk)

    response = token_client.get(f"/api/maintenances/{maintenance.pk}/history/")

    assert response.status_code == 200
    assert response.json()["results"][-1]["next"] is None


# -- schema ---------------------------------------------------------------------------------


def test_the_schema_documents_every_maintenance_operation_and_enum(anon: APIClient) -> None:
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    }

    assert {
        ("GET", "/api/maintenances/"),
        ("POST", "/api/maintenances/"),
        ("GET", "/api/maintenances/{id}/"),
        ("PATCH", "/api/maintenances/{id}/"),
        ("DELETE", "/api/maintenances/{id}/"),
        ("POST", "/api/maintenances/{id}/updates/"),
        ("POST", "/api/maintenances/{id}/start/"),
        ("POST", "/api/maintenances/{id}/complete/"),
        ("POST", "/api/maintenances/{id}/cancel/"),
        ("GET", "/api/maintenances/{id}/history/"),
    } <= operations
    components = schema["components"]["schemas"]
    assert components["MaintenanceStatusEnum"]["enum"] == [
        "scheduled",
        "in_progress",
        "completed",
        "cancelled",
    ]
    assert components["SystemStatusEnum"]["enum"] == [
        "operational",
        "under_maintenance",
        "degraded_performance",
        "partial_outage",
        "major_outage",
    ]
    assert "SystemStatusEnum" in str(components["System"]["properties"]["status"])
    assert "MaintenanceStatusEnum" in str(components["Maintenance"]["properties"]["status"])
