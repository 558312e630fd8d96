"""Strict input everywhere: a query parameter or body value the schema does not allow is a 400
naming it (never silently dropped or coerced), and the schema says which request bodies refuse
unknown fields."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog.models import System
from checkstack.automation import webhooks
from incidents import services
from incidents.models import Incident
from tests.api.helpers import make_incident, make_systems
from tests.statuspage.maintenance.helpers import make_maintenance

# Every paginated list of the API, with placeholders for the seeded rows (see ``list_paths``).
LIST_PATHS = [
    "/api/automation/automations/",
    "/api/automation/runs/",
    "/api/automation/webhooks/",
    "/api/automation/webhooks/{endpoint}/deliveries/",
    "/api/catalog/groups/",
    "/api/catalog/systems/",
    "/api/catalog/systems/{system}/history/",
    "/api/incidents/",
    "/api/incidents/{incident}/history/",
    "/api/maintenances/",
    "/api/maintenances/{maintenance}/history/",
    "/api/subscribers/",
]
BAD_NUMBERS = ["abc", "0", "-1", "", "1.5", "+2", "1e3", "٣", "null"]


@pytest.fixture
def rows(db: None) -> dict[str, str]:
    make_systems("db")
    return {
        "system": "db",
        "incident": make_incident(("db",)).pk,
        "maintenance": make_maintenance(["db"]).pk,
        "endpoint": str(webhooks.create_endpoint(url="http://127.0.0.1:9/hook").pk),
    }


@pytest.fixture
def list_paths(rows: dict[str, str]) -> list[str]:
    return [path.format(**rows) for path in LIST_PATHS]


@pytest.fixture
def schema(anon: APIClient) -> dict[str, Any]:
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return response.json()  # type: ignore[no-any-return]


def test_the_list_paths_here_are_every_paginated_list_of_the_schema(
    schema: dict[str, Any],
) -> None:
    def shape(path: str) -> str:
        return re.sub(r"\{[a-z_]+\}", "{}", path)

    paginated = {
        shape(path)
        for path, item in schema["paths"].items()
        if any(p["name"] == "page_size" for p in item.get("get", {}).get("parameters", []))
    }
    assert paginated == {shape(path) for path in LIST_PATHS}


@pytest.mark.parametrize("param", ["page_size", "page"])
def test_every_list_refuses_a_page_or_page_size_that_is_not_a_whole_number(
    superuser_client: APIClient, list_paths: list[str], param: str
) -> None:
    for path in list_paths:
        for value in BAD_NUMBERS:
            response = superuser_client.get(path, {param: value})
            assert response.status_code == 400, (path, value, response.content)
            assert response.json() == {param: ["Must be a whole number of at least 1."]}


def test_every_list_still_takes_good_page_numbers(
    superuser_client: APIClient, list_paths: list[str]
) -> None:
    for path in list_paths:
        response = superuser_client.get(path, {"page": "1", "page_size": "2"})
        assert response.status_code == 200, (path, response.content)
        # A page past the last one is still "not found", as before.
        assert superuser_client.get(path, {"page": "99"}).status_code == 404
        huge = superuser_client.get(path, {"page": "9" * 5000, "page_size": "9" * 5000})
        assert huge.status_code == 404


def test_a_page_size_above_the_maximum_is_capped(anon: APIClient, db: None) -> None:
    make_systems(*(f"s{n}" for n in range(3)))
    response = anon.get("/api/catalog/systems/", {"page_size": "1000"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


@pytest.mark.parametrize("value", ["yes", "maybe", "", "2", "on"])
def test_include_resolved_refuses_values_other_than_true_and_false(
    anon: APIClient, db: None, value: str
) -> None:
    response = anon.get("/api/incidents/", {"include_resolved": value})
    assert response.status_code == 400
    assert response.json() == {"include_resolved": ["Must be true or false."]}


@pytest.mark.parametrize(("value", "listed"), [("true", 2), ("TRUE", 2), ("1", 2), ("0", 1)])
def test_include_resolved_takes_true_and_false(
    anon: APIClient, systems: list[str], value: str, listed: int
) -> None:
    make_incident(("db",))
    services.resolve_incident(make_incident(("api",)).pk)
    response = anon.get("/api/incidents/", {"include_resolved": value})
    assert response.status_code == 200
    assert response.json()["count"] == listed


def test_the_subscribers_confirmed_filter_refuses_other_values(
    superuser_client: APIClient,
) -> None:
    response = superuser_client.get("/api/subscribers/", {"confirmed": "maybe"})
    assert response.status_code == 400
    assert response.json() == {"confirmed": ["Must be true or false."]}


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/incidents/", "status"),
        ("/api/incidents/", "severity"),
        ("/api/maintenances/", "visibility"),
        ("/api/automation/runs/", "status"),
        ("/api/subscribers/", "channel"),
    ],
)
def test_a_blank_choice_is_refused_not_read_as_no_filter(
    superuser_client: APIClient, path: str, param: str
) -> None:
    response = superuser_client.get(path, {param: ""})
    assert response.status_code == 400
    assert list(response.json()) == [param]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"id": "db", "name": 0}, {"name": ["Not a valid string."]}),
        ({"id": 7, "name": "DB"}, {"id": ["Not a valid string."]}),
        ({"name": "DB", "description": 1.5}, {"description": ["Not a valid string."]}),
    ],
)
def test_a_body_value_of_another_json_type_is_refused_not_coerced(
    superuser_client: APIClient, body: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    response = superuser_client.post("/api/catalog/systems/", body, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert not System.objects.exists()


def test_incident_bodies_refuse_coerced_booleans_and_id_items(
    superuser_client: APIClient, systems: list[str]
) -> None:
    create = {"title": "Down", "severity": "minor", "system_ids": ["db"]}
    coerced_boolean = {**create, "suppress_notifications": "yes"}
    numeric_id = {**create, "system_ids": ["db", 5]}

    first = superuser_client.post("/api/incidents/", coerced_boolean, format="json")
    second = superuser_client.post("/api/incidents/", numeric_id, format="json")
    bulk = superuser_client.post("/api/incidents/bulk-delete/", {"ids": [0]}, format="json")

    assert first.status_code == 400
    assert first.json() == {"suppress_notifications": ["Must be a valid boolean."]}
    assert second.status_code == 400
    assert second.json() == {"system_ids": ["Item 1: Not a valid string."]}
    assert bulk.status_code == 400
    assert bulk.json() == {"ids": ["Item 0: Not a valid string."]}
    assert not Incident.objects.exists()


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else node


def test_every_request_body_says_unknown_fields_are_refused(schema: dict[str, Any]) -> None:
    bodies = {
        f"{method.upper()} {path}": _resolve(schema, content["schema"])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "requestBody" in operation
        for content in operation["requestBody"]["content"].values()
    }
    assert "POST /api/incidents/" in bodies
    assert [
        name for name, body in bodies.items() if body.get("additionalProperties") is not False
    ] == []


def test_automation_definition_parts_in_request_bodies_refuse_unknown_keys_too(
    schema: dict[str, Any],
) -> None:
    components = schema["components"]["schemas"]
    for name in ("TriggerInputRequest", "StepInputRequest", "ConcurrencyInputRequest"):
        assert components[name]["additionalProperties"] is False
    # Their keys are optional where the services take a default.
    assert components["TriggerInputRequest"]["required"] == ["event"]
    assert "required" not in components["ConcurrencyInputRequest"]


def test_pagination_parameters_are_documented_as_whole_numbers(schema: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in schema["paths"]["/api/incidents/"]["get"]["parameters"]}
    assert parameters["page"]["schema"] == {"type": "integer", "minimum": 1}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1}
    assert parameters["include_resolved"]["schema"] == {"type": "boolean"}
