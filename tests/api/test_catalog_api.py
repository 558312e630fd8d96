"""Catalog endpoints: systems and groups, their errors, permissions and history (api.md)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from catalog.models import Group, System
from tests.api.helpers import body, change_count, make_user, patch, post, raw

SYSTEM_FIELDS = {
    "id",
    "name",
    "description",
    "metadata",
    "group_ids",
    "status",
    "created_at",
    "updated_at",
}
GROUP_FIELDS = {"id", "name", "metadata", "system_ids", "created_at", "updated_at"}


@pytest.fixture
def group(systems: list[str]) -> str:
    from catalog import services

    return services.create_group(id="core", name="Core", system_ids=["db", "api"]).pk


@pytest.fixture
def incident_manager_client(managers_group: Any) -> APIClient:
    """Holds ``incidents.manage_incident`` only: catalog writes stay forbidden."""
    user = make_user("ivan")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="incidents", codename="manage_incident")
    )
    client = APIClient()
    client.force_login(user)
    return client


# -- systems: reads ---------------------------------------------------------------------------


def test_system_list_is_paginated_and_sorted_by_name(anon: APIClient, systems: list[str]) -> None:
    response = anon.get("/api/catalog/systems/")

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    assert data["next"] is None and data["previous"] is None
    assert [s["id"] for s in data["results"]] == ["api", "db", "web"]
    assert set(data["results"][0]) == SYSTEM_FIELDS


def test_system_list_pages_with_page_size(anon: APIClient, systems: list[str]) -> None:
    first = anon.get("/api/catalog/systems/?page_size=2").json()
    second = anon.get("/api/catalog/systems/?page_size=2&page=2").json()

    assert first["count"] == 3
    assert [s["id"] for s in first["results"]] == ["api", "db"]
    assert first["next"] is not None
    assert [s["id"] for s in second["results"]] == ["web"]
    assert second["previous"] is not None


def test_system_list_search_matches_name_case_insensitively(
    anon: APIClient, systems: list[str]
) -> None:
    response = anon.get("/api/catalog/systems/?search=eB")

    assert [s["id"] for s in response.json()["results"]] == ["web"]


def test_system_detail_lists_its_groups(anon: APIClient, group: str) -> None:
    response = anon.get("/api/catalog/systems/db/")

    assert response.status_code == 200
    data = response.json()
    assert set(data) == SYSTEM_FIELDS
    assert data["id"] == "db"
    assert data["name"] == "DB"
    assert data["group_ids"] == ["core"]


def test_unknown_system_is_404(anon: APIClient, db: None) -> None:
    response = anon.get("/api/catalog/systems/nope/")

    assert response.status_code == 404
    assert "detail" in response.json()


# -- systems: writes --------------------------------------------------------------------------


def test_manager_creates_a_system(manager_client: APIClient, db: None) -> None:
    response = post(
        manager_client,
        "/api/catalog/systems/",
        {"id": "mail", "name": "Mail", "description": "SMTP relay", "metadata": {"tier": 1}},
    )

    assert response.status_code == 201
    data = response.json()
    assert set(data) == SYSTEM_FIELDS
    assert data["id"] == "mail"
    assert data["name"] == "Mail"
    assert data["description"] == "SMTP relay"
    assert data["metadata"] == {"tier": 1}
    assert data["group_ids"] == []
    assert System.objects.filter(pk="mail").exists()
    assert change_count("catalog-system", "mail") == 1


def test_system_created_without_id_gets_a_generated_one(token_client: APIClient, db: None) -> None:
    response = post(token_client, "/api/catalog/systems/", {"name": "Queue"})

    assert response.status_code == 201
    assert System.objects.get(pk=response.json()["id"]).name == "Queue"


def test_creating_a_system_with_a_taken_id_is_409(
    manager_client: APIClient, systems: list[str]
) -> None:
    response = post(manager_client, "/api/catalog/systems/", {"id": "db", "name": "Other"})

    assert response.status_code == 409
    assert "detail" in response.json()
    assert System.objects.get(pk="db").name == "DB"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "  "}, "name"),
        ({}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Mail", "id": "Not A Slug!"}, "id"),
        ({"name": "Mail", "metadata": [1, 2]}, "metadata"),
        ({"name": "Mail", "metadata": "text"}, "metadata"),
        ({"name": "Mail", "colour": "red"}, "colour"),
    ],
)
def test_invalid_system_create_is_400_naming_the_field(
    manager_client: APIClient, db: None, payload: dict[str, Any], field: str
) -> None:
    response = post(manager_client, "/api/catalog/systems/", payload)

    assert response.status_code == 400
    errors = response.json()
    assert field in errors
    assert all(isinstance(message, str) for message in errors[field])
    assert not System.objects.exists()


def test_unknown_field_message_is_unknown_field(manager_client: APIClient, db: None) -> None:
    response = post(manager_client, "/api/catalog/systems/", {"name": "Mail", "colour": "red"})

    assert response.json() == {"colour": ["Unknown field."]}


def test_malformed_json_on_a_system_write_is_400(manager_client: APIClient, db: None) -> None:
    response = raw(manager_client, "POST", "/api/catalog/systems/", '{"name": "Mail",')

    assert response.status_code == 400
    assert not System.objects.exists()


def test_manager_renames_a_system(manager_client: APIClient, systems: list[str]) -> None:
    response = patch(manager_client, "/api/catalog/systems/db/", {"name": "Database"})

    assert response.status_code == 200
    assert response.json()["name"] == "Database"
    assert System.objects.get(pk="db").name == "Database"
    assert change_count("catalog-system", "db") == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"name": ""}, "name"), ({"metadata": 3}, "metadata"), ({"id": "other"}, "id")],
)
def test_invalid_system_patch_is_400(
    manager_client: APIClient, systems: list[str], payload: dict[str, Any], field: str
) -> None:
    response = patch(manager_client, "/api/catalog/systems/db/", payload)

    assert response.status_code == 400
    assert field in response.json()
    assert change_count("catalog-system", "db") == 1


def test_patching_an_unknown_system_is_404(manager_client: APIClient, db: None) -> None:
    response = patch(manager_client, "/api/catalog/systems/nope/", {"name": "X"})

    assert response.status_code == 404


def test_manager_deletes_a_system_and_it_leaves_its_groups(
    manager_client: APIClient, group: str
) -> None:
    response = manager_client.delete("/api/catalog/systems/db/")

    assert response.status_code == 204
    assert not System.objects.filter(pk="db").exists()
    assert manager_client.get(f"/api/catalog/groups/{group}/").json()["system_ids"] == ["api"]


def test_deleting_an_unknown_system_is_404(manager_client: APIClient, db: None) -> None:
    assert manager_client.delete("/api/catalog/systems/nope/").status_code == 404


# -- systems: history -------------------------------------------------------------------------


def test_system_history_lists_changes_seq_ascending(
    manager_client: APIClient, systems: list[str]
) -> None:
    patch(manager_client, "/api/catalog/systems/db/", {"name": "Database"})
    patch(manager_client, "/api/catalog/systems/db/", {"description": "Primary"})

    response = manager_client.get("/api/catalog/systems/db/history/")

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    assert [c["seq"] for c in data["results"]] == [1, 2, 3]
    assert set(data["results"][0]) == {
        "change_id",
        "kind",
        "entity_id",
        "seq",
        "prev",
        "next",
        "delta",
        "changed_fields",
        "actor",
        "occurred_at",
    }
    assert data["results"][0]["prev"] is None
    assert data["results"][1]["next"]["name"] == "Database"
    assert data["results"][1]["actor"]["type"] == "user"


def test_system_history_is_paginated(manager_client: APIClient, systems: list[str]) -> None:
    for name in ("One", "Two", "Three"):
        patch(manager_client, "/api/catalog/systems/db/", {"name": name})

    data = manager_client.get("/api/catalog/systems/db/history/?page_size=2&page=2").json()

    assert data["count"] == 4
    assert [c["seq"] for c in data["results"]] == [3, 4]


def test_history_of_a_deleted_system_ends_with_its_tombstone(
    manager_client: APIClient, systems: list[str]
) -> None:
    manager_client.delete("/api/catalog/systems/web/")

    response = manager_client.get("/api/catalog/systems/web/history/")

    assert response.status_code == 200
    assert response.json()["results"][-1]["next"] is None


def test_history_of_an_unknown_system_is_404(manager_client: APIClient, db: None) -> None:
    assert manager_client.get("/api/catalog/systems/nope/history/").status_code == 404


def test_system_history_needs_the_catalog_permission(
    user_client: APIClient, incident_manager_client: APIClient, anon: APIClient, systems: list[str]
) -> None:
    assert user_client.get("/api/catalog/systems/db/history/").status_code == 403
    assert incident_manager_client.get("/api/catalog/systems/db/history/").status_code == 403
    assert anon.get("/api/catalog/systems/db/history/").status_code == 401


# -- groups -----------------------------------------------------------------------------------


def test_group_list_and_detail(anon: APIClient, group: str) -> None:
    listed = anon.get("/api/catalog/groups/")
    detail = anon.get(f"/api/catalog/groups/{group}/")

    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    assert detail.status_code == 200
    assert set(detail.json()) == GROUP_FIELDS
    assert detail.json()["system_ids"] == ["api", "db"]


def test_unknown_group_is_404(anon: APIClient, db: None) -> None:
    assert anon.get("/api/catalog/groups/nope/").status_code == 404


def test_manager_creates_a_group_with_members(
    manager_client: APIClient, systems: list[str]
) -> None:
    response = post(
        manager_client,
        "/api/catalog/groups/",
        {"id": "edge", "name": "Edge", "metadata": {"owner": "ops"}, "system_ids": ["web", "api"]},
    )

    assert response.status_code == 201
    data = response.json()
    assert set(data) == GROUP_FIELDS
    assert data["system_ids"] == ["api", "web"]
    assert data["metadata"] == {"owner": "ops"}
    assert manager_client.get("/api/catalog/systems/web/").json()["group_ids"] == ["edge"]


def test_group_with_unknown_systems_is_400_listing_them(
    manager_client: APIClient, systems: list[str]
) -> None:
    response = post(
        manager_client,
        "/api/catalog/groups/",
        {"name": "Edge", "system_ids": ["web", "ghost", "phantom"]},
    )

    assert response.status_code == 400
    message = " ".join(response.json()["system_ids"])
    assert "ghost" in message and "phantom" in message
    assert "web" not in message
    assert not Group.objects.exists()


def test_creating_a_group_with_a_taken_id_is_409(manager_client: APIClient, group: str) -> None:
    response = post(manager_client, "/api/catalog/groups/", {"id": group, "name": "Again"})

    assert response.status_code == 409


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "G", "metadata": ["x"]}, "metadata"),
        ({"name": "G", "system_ids": "db"}, "system_ids"),
        ({"name": "G", "members": ["db"]}, "members"),
    ],
)
def test_invalid_group_create_is_400(
    manager_client: APIClient, systems: list[str], payload: dict[str, Any], field: str
) -> None:
    response = post(manager_client, "/api/catalog/groups/", payload)

    assert response.status_code == 400
    assert field in response.json()


def test_manager_changes_group_members(manager_client: APIClient, group: str) -> None:
    response = patch(manager_client, f"/api/catalog/groups/{group}/", {"system_ids": ["web"]})

    assert response.status_code == 200
    assert response.json()["system_ids"] == ["web"]
    assert manager_client.get("/api/catalog/systems/db/").json()["group_ids"] == []


def test_patching_a_group_with_unknown_systems_is_400(
    manager_client: APIClient, group: str
) -> None:
    response = patch(manager_client, f"/api/catalog/groups/{group}/", {"system_ids": ["ghost"]})

    assert response.status_code == 400
    assert "ghost" in " ".join(response.json()["system_ids"])
    assert manager_client.get(f"/api/catalog/groups/{group}/").json()["system_ids"] == [
        "api",
        "db",
    ]


def test_patching_an_unknown_group_is_404(manager_client: APIClient, db: None) -> None:
    assert patch(manager_client, "/api/catalog/groups/nope/", {"name": "X"}).status_code == 404


def test_manager_deletes_a_group(manager_client: APIClient, group: str) -> None:
    assert manager_client.delete(f"/api/catalog/groups/{group}/").status_code == 204
    assert not Group.objects.filter(pk=group).exists()
    assert manager_client.delete(f"/api/catalog/groups/{group}/").status_code == 404


# -- authentication and permissions -----------------------------------------------------------

CATALOG_WRITES = [
    ("post", "/api/catalog/systems/", {"id": "mail", "name": "Mail"}),
    ("patch", "/api/catalog/systems/db/", {"name": "Renamed"}),
    ("delete", "/api/catalog/systems/db/", None),
    ("post", "/api/catalog/groups/", {"id": "edge", "name": "Edge"}),
    ("patch", "/api/catalog/groups/core/", {"name": "Renamed"}),
    ("delete", "/api/catalog/groups/core/", None),
]


def _send(client: APIClient, method: str, path: str, payload: Any) -> Any:
    return getattr(client, method)(path, payload, format="json")


def _catalog_state() -> list[Any]:
    return [
        sorted(System.objects.values_list("id", "name")),
        sorted(Group.objects.values_list("id", "name")),
    ]


@pytest.mark.parametrize(("method", "path", "payload"), CATALOG_WRITES)
def test_anonymous_catalog_write_is_401_with_a_challenge(
    anon: APIClient, group: str, method: str, path: str, payload: Any
) -> None:
    before = _catalog_state()

    response = _send(anon, method, path, payload)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Token")
    assert "detail" in response.json()
    assert _catalog_state() == before


@pytest.mark.parametrize(("method", "path", "payload"), CATALOG_WRITES)
def test_catalog_write_without_the_catalog_permission_is_403(
    user_client: APIClient,
    incident_manager_client: APIClient,
    group: str,
    method: str,
    path: str,
    payload: Any,
) -> None:
    before = _catalog_state()

    for client in (user_client, incident_manager_client):
        response = _send(client, method, path, payload)
        assert response.status_code == 403
        assert "detail" in body(response)
    assert _catalog_state() == before


@pytest.mark.parametrize(("method", "path", "payload"), CATALOG_WRITES)
def test_catalog_writes_work_with_a_token(
    token_client: APIClient, group: str, method: str, path: str, payload: Any
) -> None:
    before = _catalog_state()

    response = _send(token_client, method, path, payload)

    assert response.status_code in {200, 201, 204}
    assert _catalog_state() != before


def test_superuser_may_write_the_catalog(superuser_client: APIClient, db: None) -> None:
    response = post(superuser_client, "/api/catalog/systems/", {"id": "mail", "name": "Mail"})

    assert response.status_code == 201


def test_an_invalid_token_is_401(anon: APIClient, systems: list[str]) -> None:
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")

    assert anon.get("/api/catalog/systems/").status_code == 401


# -- never a 500 for bad input: NUL characters (PostgreSQL text cannot hold them) -------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/catalog/systems/a%00b/"),
        ("get", "/api/catalog/systems/a%00b/history/"),
        ("patch", "/api/catalog/systems/a%00b/"),
        ("delete", "/api/catalog/systems/a%00b/"),
        ("get", "/api/catalog/groups/a%00b/"),
        ("patch", "/api/catalog/groups/a%00b/"),
        ("delete", "/api/catalog/groups/a%00b/"),
    ],
)
def test_an_id_with_a_nul_character_is_404(
    manager_client: APIClient, db: None, method: str, path: str
) -> None:
    manager_client.raise_request_exception = False
    payload = {"name": "Renamed"} if method == "patch" else None

    response = getattr(manager_client, method)(path, payload, format="json")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/catalog/systems/"),
        ("patch", "/api/catalog/systems/db/"),
        ("post", "/api/catalog/groups/"),
        ("patch", "/api/catalog/groups/core/"),
    ],
)
@pytest.mark.parametrize("metadata", [{"note": "a\u0000b"}, {"a\u0000b": 1}, {"x": ["\u0000"]}])
def test_metadata_with_a_nul_character_is_not_a_server_error(
    manager_client: APIClient, group: str, method: str, path: str, metadata: dict[str, Any]
) -> None:
    manager_client.raise_request_exception = False

    response = getattr(manager_client, method)(
        path, {"name": "Named", "metadata": metadata}, format="json"
    )

    assert response.status_code < 500
