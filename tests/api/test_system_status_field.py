"""The catalog systems' ``status`` field: the worst of open incidents and running maintenance,
as the caller's audience may see them; one query per status source for a whole page."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog import services as catalog
from statuspage.maintenance import services as maintenance
from tests.api.helpers import make_incident
from tests.api.test_query_counts import assert_constant
from tests.statuspage.maintenance.helpers import running

pytestmark = pytest.mark.django_db

SEES = {
    "anon": {"db": "operational", "api": "operational", "web": "degraded_performance"},
    "user_client": {"db": "operational", "api": "under_maintenance", "web": "degraded_performance"},
    "manager_client": {"db": "major_outage", "api": "under_maintenance", "web": "partial_outage"},
}


@pytest.fixture
def troubles(systems: list[str]) -> None:
    """An internal critical incident on db, a logged-in maintenance of api and web, a public
    minor incident on web and an internal major one there."""
    make_incident(("db",), severity="critical", visibility="internal")
    running(["api", "web"], visibility="logged_in")
    make_incident(("web",), severity="minor")
    make_incident(("web",), severity="major", visibility="internal")


@pytest.mark.parametrize("audience", list(SEES))
def test_each_audience_sees_the_status_it_may_know_of(
    request: pytest.FixtureRequest, troubles: None, audience: str
) -> None:
    client: APIClient = request.getfixturevalue(audience)

    listed = client.get("/api/catalog/systems/").json()["results"]

    assert {system["id"]: system["status"] for system in listed} == SEES[audience]
    for system_id, status in SEES[audience].items():
        assert client.get(f"/api/catalog/systems/{system_id}/").json()["status"] == status


def test_a_system_under_maintenance_shows_it_until_the_maintenance_completes(
    anon: APIClient, systems: list[str]
) -> None:
    under = running(["db"])

    assert anon.get("/api/catalog/systems/db/").json()["status"] == "under_maintenance"
    maintenance.complete_maintenance(under.pk)
    assert anon.get("/api/catalog/systems/db/").json()["status"] == "operational"


def test_writes_answer_with_the_status_too(manager_client: APIClient, db: None) -> None:
    created = manager_client.post(
        "/api/catalog/systems/", {"id": "mail", "name": "Mail"}, format="json"
    )

    assert created.json()["status"] == "operational"


def test_the_list_costs_one_query_per_source_whatever_the_page_holds(
    token_client: APIClient, db: None, django_assert_max_num_queries: Any
) -> None:
    def grow_to(n: int) -> None:
        from catalog.models import System

        while System.objects.count() < n:
            system_id = f"system-{System.objects.count():03d}"
            catalog.create_system(id=system_id, name=system_id)
            make_incident((system_id,), severity="minor")
            running([system_id])

    def rows() -> int:
        listed = token_client.get("/api/catalog/systems/?page_size=50").json()["results"]
        assert {system["status"] for system in listed} == {"degraded_performance"}
        return len(listed)

    assert_constant(token_client, "/api/catalog/systems/?page_size=50", grow_to, rows)
    # token, count, page, groups prefetch, the reader's permissions (user's, groups'), then one
    # per status source (incidents, maintenance)
    with django_assert_max_num_queries(8):
        token_client.get("/api/catalog/systems/?page_size=50")
