"""The OpenAPI schema at ``/api/schema/`` and the Swagger UI at ``/api/docs/``."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from incidents import services
from tests.api.helpers import add_timeline, make_incident

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
DOCUMENTED_ERRORS = {"400", "401", "403", "404"}
ENUMS = {
    "IncidentStatusEnum": ["investigating", "identified", "fixing", "monitoring", "resolved"],
    "SeverityEnum": ["minor", "major", "critical"],
    "VisibilityEnum": ["public", "logged_in", "internal"],
    "HealthOverrideEnum": ["degraded", "unhealthy"],
}


@pytest.fixture
def schema(anon: APIClient) -> dict[str, Any]:
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def ref_names(node: Any) -> set[str]:
    """Every component name referenced anywhere below ``node``."""
    if isinstance(node, dict):
        found = set()
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                found |= ref_names(value)
        return found
    if isinstance(node, list):
        return set().union(*(ref_names(item) for item in node)) if node else set()
    return set()


def test_schema_is_openapi_3(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]


def test_spectacular_validates_the_schema_without_warnings(db: None, tmp_path: Any) -> None:
    target = tmp_path / "schema.yaml"

    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(target), stdout=io.StringIO()
    )

    assert "openapi:" in target.read_text()


def test_schema_has_every_contract_path(schema: dict[str, Any]) -> None:
    expected = {
        ("GET", "/api/catalog/systems/"),
        ("POST", "/api/catalog/systems/"),
        ("GET", "/api/catalog/systems/{id}/"),
        ("PATCH", "/api/catalog/systems/{id}/"),
        ("DELETE", "/api/catalog/systems/{id}/"),
        ("GET", "/api/catalog/systems/{id}/history/"),
        ("GET", "/api/catalog/groups/"),
        ("POST", "/api/catalog/groups/"),
        ("GET", "/api/catalog/groups/{id}/"),
        ("PATCH", "/api/catalog/groups/{id}/"),
        ("DELETE", "/api/catalog/groups/{id}/"),
        ("GET", "/api/incidents/"),
        ("POST", "/api/incidents/"),
        ("GET", "/api/incidents/{id}/"),
        ("PATCH", "/api/incidents/{id}/"),
        ("DELETE", "/api/incidents/{id}/"),
        ("POST", "/api/incidents/{id}/resolve/"),
        ("POST", "/api/incidents/{id}/updates/"),
        ("PATCH", "/api/incidents/{id}/updates/{update_id}/"),
        ("DELETE", "/api/incidents/{id}/updates/{update_id}/"),
        ("POST", "/api/incidents/{id}/links/"),
        ("PATCH", "/api/incidents/{id}/links/{link_id}/"),
        ("DELETE", "/api/incidents/{id}/links/{link_id}/"),
        ("POST", "/api/incidents/bulk-resolve/"),
        ("POST", "/api/incidents/bulk-delete/"),
        ("GET", "/api/incidents/{id}/history/"),
        ("GET", "/api/incidents/health-overrides/"),
    }

    assert expected <= {(method, path) for method, path, _ in operations(schema)}


@pytest.mark.parametrize(("name", "values"), ENUMS.items())
def test_schema_names_each_enum(schema: dict[str, Any], name: str, values: list[str]) -> None:
    component = schema["components"]["schemas"][name]

    assert component["enum"] == values


@pytest.mark.parametrize(
    ("component", "field", "enum"),
    [
        ("Incident", "status", "IncidentStatusEnum"),
        ("Incident", "severity", "SeverityEnum"),
        ("Incident", "health_override", "HealthOverrideEnum"),
        ("Update", "status_change", "IncidentStatusEnum"),
        ("Update", "visibility", "VisibilityEnum"),
        ("Link", "visibility", "VisibilityEnum"),
        ("IncidentCreateRequest", "severity", "SeverityEnum"),
        ("UpdateCreateRequest", "visibility", "VisibilityEnum"),
        ("HealthOverrideEntry", "status", "HealthOverrideEnum"),
    ],
)
def test_enum_fields_reference_the_named_enum(
    schema: dict[str, Any], component: str, field: str, enum: str
) -> None:
    prop = schema["components"]["schemas"][component]["properties"][field]

    assert enum in ref_names(prop)


def test_every_operation_documents_the_error_statuses(schema: dict[str, Any]) -> None:
    missing = {
        f"{method} {path}": sorted(DOCUMENTED_ERRORS - set(operation["responses"]))
        for method, path, operation in operations(schema)
        if not set(operation["responses"]) >= DOCUMENTED_ERRORS
    }

    assert missing == {}


def test_conflicting_writes_document_409(schema: dict[str, Any]) -> None:
    paths = schema["paths"]

    assert "409" in paths["/api/incidents/{id}/links/"]["post"]["responses"]
    assert "409" in paths["/api/catalog/systems/"]["post"]["responses"]
    assert "409" in paths["/api/catalog/groups/"]["post"]["responses"]


def test_error_responses_reference_the_error_shapes(schema: dict[str, Any]) -> None:
    responses = schema["paths"]["/api/incidents/{id}/"]["get"]["responses"]

    assert "ErrorDetail" in ref_names(responses["404"])
    assert "ErrorDetail" in ref_names(responses["401"])
    assert "FieldErrors" in ref_names(responses["400"])


def test_schema_documents_token_authentication(schema: dict[str, Any]) -> None:
    schemes = schema["components"]["securitySchemes"]

    assert any(
        scheme.get("in") == "header" and scheme.get("name") == "Authorization"
        for scheme in schemes.values()
    )


def test_list_operations_document_pagination_and_filters(schema: dict[str, Any]) -> None:
    params = {p["name"]: p for p in schema["paths"]["/api/incidents/"]["get"]["parameters"]}

    assert {"page", "page_size", "status", "severity", "system", "include_resolved"} <= set(params)
    assert {"search", "ordering"} <= set(params)
    assert set(params["status"]["schema"]["enum"]) == set(ENUMS["IncidentStatusEnum"])


# -- the schema matches what each audience receives -------------------------------------------


@pytest.fixture
def live_schema(db: None, keep_test_connection: None) -> Any:
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def _detail_headers(request: pytest.FixtureRequest, audience: str) -> dict[str, str]:
    if audience == "anonymous":
        return {}
    user = request.getfixturevalue("user" if audience == "logged_in" else "manager")
    return {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}


@pytest.mark.parametrize("audience", ["anonymous", "logged_in", "manager"])
def test_incident_detail_conforms_to_the_schema_for_every_audience(
    request: pytest.FixtureRequest, live_schema: Any, systems: list[str], audience: str
) -> None:
    manager = request.getfixturevalue("manager")
    incident = make_incident(("db",), initial_message="Investigating")
    add_timeline(incident, actor=manager)
    services.edit_update(incident.pk, incident.updates.first().pk, message="edited")
    operation = live_schema["/api/incidents/{id}/"]["GET"]
    case = operation.Case(path_parameters={"id": incident.pk})

    response = case.call(headers=_detail_headers(request, audience))

    assert response.status_code == 200
    operation.validate_response(response)


# -- Swagger UI -------------------------------------------------------------------------------


def test_docs_render_with_local_assets_only(anon: APIClient) -> None:
    response = anon.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html)
    styles = re.findall(r"<link[^>]*\bhref=\"([^\"]+)\"", html)
    assert scripts, "the page loads Swagger UI's script"
    for url in scripts + styles:
        assert url.startswith("/"), url
        assert "cdn." not in url
    assert "https://" not in " ".join(scripts)
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_docs_assets_are_shipped_as_static_files(anon: APIClient) -> None:
    html = anon.get("/api/docs/").content.decode()
    assets = re.findall(r"(?:src|href)=\"/static/([^\"]+)\"", html)

    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        assert finders.find(asset), f"static asset {asset} is not shipped"


def test_docs_point_at_the_local_schema(anon: APIClient) -> None:
    html = anon.get("/api/docs/").content.decode()

    assert "/api/schema/" in html


@pytest.mark.parametrize("method", ["options", "post", "put", "delete"])
def test_docs_page_answers_other_methods_with_405(anon: APIClient, method: str) -> None:
    response = getattr(anon, method)("/api/docs/")

    assert response.status_code == 405  # OPTIONS was a 500: no template for DRF's metadata
    assert anon.head("/api/docs/").status_code == 200
