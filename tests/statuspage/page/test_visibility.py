"""Who sees what on every read path of the public page: anonymous readers the public
incidents, maintenance and updates; logged-in readers (managers too) also the logged_in ones;
internal ones nobody, even a manager (the page is the public face)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from incidents import services
from incidents.models import Incident
from tests.statuspage.page.helpers import (
    SEES,
    VISIBILITIES,
    incident_with_timeline,
    running_maintenance,
    text,
)

AUDIENCES = list(SEES)


@pytest.fixture
def incidents(systems: list[str]) -> dict[str, Incident]:
    """One active incident of each visibility on ``db``, each with updates of every visibility."""
    return {v: incident_with_timeline(v) for v in VISIBILITIES}


def expected_markers(seen: set[str], kind: str = "incident", note: str = "update") -> set[str]:
    """The update messages a reader of ``seen`` visibilities gets: both must be visible."""
    return {f"{i}-{kind} {u}-{note}" for i in seen for u in seen}


def all_markers(kind: str = "incident", note: str = "update") -> set[str]:
    return {f"{i}-{kind} {u}-{note}" for i in VISIBILITIES for u in VISIBILITIES}


def assert_shows_exactly(
    body: str, seen: set[str], kind: str = "incident", note: str = "update"
) -> None:
    shown = {marker for marker in all_markers(kind, note) if marker in body}
    assert shown == expected_markers(seen, kind, note)
    for visibility in VISIBILITIES:
        assert (f"{visibility}-{kind}" in body) == (visibility in seen), visibility


@pytest.mark.parametrize("audience", AUDIENCES)
def test_the_page_shows_the_incidents_and_updates_of_the_audience(
    request: pytest.FixtureRequest, incidents: dict[str, Incident], audience: str
) -> None:
    client: Client = request.getfixturevalue(audience)

    assert_shows_exactly(text(client, "/status/"), SEES[audience])


@pytest.mark.parametrize("audience", AUDIENCES)
def test_the_page_shows_the_maintenance_of_the_audience(
    request: pytest.FixtureRequest, systems: list[str], audience: str
) -> None:
    for visibility in VISIBILITIES:
        running_maintenance(visibility)
    client: Client = request.getfixturevalue(audience)

    body = text(client, "/status/")

    assert_shows_exactly(body, SEES[audience], kind="maintenance", note="note")


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("visibility", VISIBILITIES)
def test_an_incident_page_is_404_unless_the_audience_may_see_the_incident(
    request: pytest.FixtureRequest,
    incidents: dict[str, Incident],
    audience: str,
    visibility: str,
) -> None:
    client: Client = request.getfixturevalue(audience)

    response = client.get(f"/status/incidents/{incidents[visibility].pk}/")

    if visibility not in SEES[audience]:
        assert response.status_code == 404
        return
    body = response.content.decode()
    assert response.status_code == 200
    shown = {u for u in VISIBILITIES if f"{visibility}-incident {u}-update" in body}
    assert shown == SEES[audience]


@pytest.fixture
def resolved(incidents: dict[str, Incident]) -> dict[str, Incident]:
    """The incidents, resolved: no longer active, only in the history and the day cells."""
    for incident in incidents.values():
        services.resolve_incident(incident.pk)
    return incidents


@pytest.mark.parametrize("audience", AUDIENCES)
def test_the_history_shows_the_incidents_and_updates_of_the_audience(
    request: pytest.FixtureRequest, resolved: dict[str, Incident], audience: str
) -> None:
    client: Client = request.getfixturevalue(audience)

    assert_shows_exactly(text(client, "/status/history/"), SEES[audience])


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("feed", ["/status/feed.atom", "/status/feed.rss"])
def test_the_feeds_have_the_incidents_and_updates_of_the_audience(
    request: pytest.FixtureRequest, incidents: dict[str, Incident], audience: str, feed: str
) -> None:
    client: Client = request.getfixturevalue(audience)

    assert_shows_exactly(text(client, feed), SEES[audience])


@pytest.mark.parametrize("audience", AUDIENCES)
def test_summary_json_has_the_incidents_and_updates_of_the_audience(
    request: pytest.FixtureRequest, incidents: dict[str, Incident], audience: str
) -> None:
    running_maintenance("internal")
    running_maintenance("logged_in")
    client: Client = request.getfixturevalue(audience)

    data = json.loads(text(client, "/status/summary.json"))

    names = {i["name"] for i in data["incidents"]}
    assert names == {f"{v}-incident" for v in SEES[audience]}
    bodies = {u["body"] for i in data["incidents"] for u in i["incident_updates"]}
    assert bodies == expected_markers(SEES[audience])
    maintenance_names = {m["name"] for m in data["scheduled_maintenances"]}
    assert maintenance_names == {f"{v}-maintenance" for v in SEES[audience] - {"public"}}


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ("anon", "operational"),
        ("user_client", "partial outage"),
        ("manager_client", "partial outage"),
    ],
)
def test_a_badge_counts_only_the_incidents_of_the_audience(
    request: pytest.FixtureRequest, systems: list[str], audience: str, expected: str
) -> None:
    incident_with_timeline("logged_in", system_ids=("api",), severity="major")
    incident_with_timeline("internal", system_ids=("api",), severity="critical")
    client: Client = request.getfixturevalue(audience)

    assert f"API: {expected}" in text(client, "/status/badge/api.svg")


@pytest.mark.parametrize("audience", AUDIENCES)
def test_system_states_and_the_banner_count_only_the_incidents_of_the_audience(
    request: pytest.FixtureRequest, systems: list[str], audience: str
) -> None:
    incident_with_timeline("internal", system_ids=("web",), severity="critical")
    incident_with_timeline("logged_in", system_ids=("web",), severity="minor")
    client: Client = request.getfixturevalue(audience)

    data = json.loads(text(client, "/status/summary.json"))
    web = next(c for c in data["components"] if c["id"] == "web")

    if audience == "anon":
        assert (web["status"], data["status"]["indicator"]) == ("operational", "none")
    else:
        assert (web["status"], data["status"]["indicator"]) == ("degraded_performance", "minor")


@pytest.mark.parametrize("audience", AUDIENCES)
def test_the_history_strip_names_only_the_incidents_of_the_audience(
    request: pytest.FixtureRequest, resolved: dict[str, Incident], audience: str
) -> None:
    client: Client = request.getfixturevalue(audience)

    body = text(client, "/status/")

    for visibility in VISIBILITIES:
        assert (f"{visibility}-incident (" in body) == (visibility in SEES[audience])
