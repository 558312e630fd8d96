"""Query counts are part of the contract: lists and details cost the same for 5 and 50 rows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from catalog import services as catalog
from incidents import services
from incidents.models import Incident
from tests.api.helpers import make_incident, make_systems, make_user

SMALL, LARGE = 5, 50


def queries_of(client: APIClient, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


def assert_constant(
    client: APIClient, path: str, grow_to: Callable[[int], None], rows: Callable[[], int]
) -> None:
    grow_to(SMALL)
    assert rows() == SMALL
    small = queries_of(client, path)
    grow_to(LARGE)
    assert rows() == LARGE
    large = queries_of(client, path)
    assert large == small, f"{path}: {small} queries with {SMALL} rows, {large} with {LARGE}"


@pytest.fixture
def authors() -> list[object]:
    return [make_user(f"author{n}", first_name=f"Author {n}") for n in range(3)]


def test_incident_list_queries_do_not_grow_with_rows(
    token_client: APIClient, systems: list[str]
) -> None:
    def grow_to(n: int) -> None:
        while Incident.objects.count() < n:
            k = Incident.objects.count()
            make_incident(systems[: 1 + k % 3], title=f"Incident {k}")

    def rows() -> int:
        return len(token_client.get("/api/incidents/?page_size=50").json()["results"])

    assert_constant(token_client, "/api/incidents/?page_size=50", grow_to, rows)


def test_incident_list_with_filters_queries_do_not_grow_with_rows(
    token_client: APIClient, systems: list[str]
) -> None:
    path = "/api/incidents/?page_size=50&include_resolved=true&system=db&ordering=-severity"

    def grow_to(n: int) -> None:
        while Incident.objects.count() < n:
            incident = make_incident(("db", "web"), title="Resolved one")
            services.resolve_incident(incident.pk)

    def rows() -> int:
        return len(token_client.get(path).json()["results"])

    assert_constant(token_client, path, grow_to, rows)


def test_system_list_queries_do_not_grow_with_rows(token_client: APIClient, db: None) -> None:
    catalog.create_group(id="all", name="All")

    def grow_to(n: int) -> None:
        from catalog.models import System

        while System.objects.count() < n:
            [system_id] = make_systems(f"system-{System.objects.count():03d}")
            catalog.update_group("all", system_ids=[system_id, *_members("all")])

    def rows() -> int:
        return len(token_client.get("/api/catalog/systems/?page_size=50").json()["results"])

    assert_constant(token_client, "/api/catalog/systems/?page_size=50", grow_to, rows)


def test_group_list_queries_do_not_grow_with_rows(
    token_client: APIClient, systems: list[str]
) -> None:
    def grow_to(n: int) -> None:
        from catalog.models import Group

        while Group.objects.count() < n:
            catalog.create_group(name=f"Group {Group.objects.count()}", system_ids=systems[:2])

    def rows() -> int:
        return len(token_client.get("/api/catalog/groups/?page_size=50").json()["results"])

    assert_constant(token_client, "/api/catalog/groups/?page_size=50", grow_to, rows)


def test_incident_detail_queries_do_not_grow_with_updates_and_links(
    token_client: APIClient, systems: list[str], authors: list[object]
) -> None:
    incident = make_incident(("db", "api"))
    path = f"/api/incidents/{incident.pk}/"
    visibilities = ("public", "logged_in", "internal")

    def grow_to(n: int) -> None:
        while incident.updates.count() < n:
            k = incident.updates.count()
            services.add_update(
                incident.pk,
                message=f"update {k}",
                visibility=visibilities[k % 3],
                actor=authors[k % len(authors)],
            )
            services.add_link(
                incident.pk, url=f"https://example.com/{k}", visibility=visibilities[k % 3]
            )

    def rows() -> int:
        data = token_client.get(path).json()
        assert len(data["links"]) == len(data["updates"])
        return len(data["updates"])

    assert_constant(token_client, path, grow_to, rows)


def test_incident_history_queries_do_not_grow_with_changes(
    token_client: APIClient, systems: list[str]
) -> None:
    incident = make_incident(("db",))
    path = f"/api/incidents/{incident.pk}/history/?page_size=50"
    severities = ("critical", "minor")

    def grow_to(n: int) -> None:
        while _changes(token_client, path) < n:
            k = _changes(token_client, path)
            services.update_incident(incident.pk, severity=severities[k % 2])

    assert_constant(token_client, path, grow_to, lambda: _changes(token_client, path))


def _changes(client: APIClient, path: str) -> int:
    return len(client.get(path).json()["results"])


def _members(group_id: str) -> list[str]:
    return list(catalog.get_group(group_id).systems.values_list("pk", flat=True))
