"""The paths of the public page: their answers to good and bad input, the setting that turns
the page off, and the shape of summary.json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core import checks
from django.test import Client
from django.urls import reverse

from incidents import services
from statuspage.page.conf import DEFAULT_ACCENT, page_settings
from statuspage.page.states import relative_luminance, text_color_on
from tests.statuspage.page.helpers import running_maintenance, text

PAGE_PATHS = [
    "/status/",
    "/status/history/",
    "/status/feed.atom",
    "/status/feed.rss",
    "/status/summary.json",
    "/status/badge/db.svg",
]


@pytest.fixture
def incident(systems: list[str]) -> Any:
    return services.create_incident(title="Database down", system_ids=["db"], severity="critical")


def test_the_url_names_are_those_of_the_contract(db: None) -> None:
    names = {
        "index": "/status/",
        "history": "/status/history/",
        "feed-atom": "/status/feed.atom",
        "feed-rss": "/status/feed.rss",
        "summary": "/status/summary.json",
    }
    for name, path in names.items():
        assert reverse(f"statuspage:{name}") == path
    assert reverse("statuspage:incident", args=["x"]) == "/status/incidents/x/"
    assert reverse("statuspage:badge", args=["db"]) == "/status/badge/db.svg"


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_every_path_answers(incident: Any, anon: Client, path: str) -> None:
    assert anon.get(path).status_code == 200


def test_an_unknown_incident_is_404(systems: list[str], anon: Client) -> None:
    assert anon.get("/status/incidents/no-such-incident/").status_code == 404


@pytest.mark.parametrize(
    "month", ["", "2024", "2024-13", "2024-00", "24-05", "2024-5", "0000-01", "9999-12", "x" * 500]
)
def test_a_bad_month_is_400(db: None, anon: Client, month: str) -> None:
    response = anon.get("/status/history/", {"month": month})

    assert response.status_code == 400
    assert "YYYY-MM" in response.content.decode()


def test_a_month_lists_its_incidents_and_links_the_months_around(
    incident: Any, anon: Client
) -> None:
    month = incident.created_at.strftime("%Y-%m")

    body = text(anon, "/status/history/", month=month)
    earlier = text(anon, "/status/history/", month="2000-01")

    assert "Database down" in body
    assert 'rel="next"' not in body  # no link past the current month
    assert 'rel="prev"' not in body  # nothing before
    assert "Database down" not in earlier
    assert "No incidents this month." in earlier
    assert 'rel="next"' in earlier


def test_an_unknown_system_gets_a_404_badge(systems: list[str], anon: Client) -> None:
    response = anon.get("/status/badge/no-such-system.svg")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("image/svg+xml")
    assert "not found" in response.content.decode()


def test_a_badge_says_the_state_in_words_and_colour(incident: Any, anon: Client) -> None:
    svg = text(anon, "/status/badge/db.svg")

    assert "DB: major outage" in svg
    assert "#c62828" in svg


@pytest.mark.parametrize("path", [*PAGE_PATHS, "/status/incidents/x/"])
def test_writes_are_not_allowed(systems: list[str], anon: Client, path: str) -> None:
    assert anon.post(path).status_code in (403, 405)  # 403: CSRF first


@pytest.mark.parametrize("path", [*PAGE_PATHS, "/status/incidents/{incident}/"])
def test_the_page_turned_off_is_404_everywhere(
    incident: Any, anon: Client, settings: Any, path: str
) -> None:
    settings.CHECKSTACK_STATUS_PAGE_ENABLED = False

    assert anon.get(path.format(incident=incident.pk)).status_code == 404


def test_summary_json_has_the_shape_of_statuspages(incident: Any, anon: Client) -> None:
    from catalog import services as catalog

    catalog.create_group(id="core", name="Core", system_ids=["db", "api"])
    running_maintenance("public", system_ids=("web",))

    data = json.loads(text(anon, "/status/summary.json"))

    assert set(data) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    assert set(data["page"]) >= {"id", "name", "url", "updated_at"}
    assert data["page"]["url"] == "http://testserver/status/"
    assert data["status"] == {"indicator": "critical", "description": "Major outage"}
    by_id = {c["id"]: c for c in data["components"]}
    assert by_id["core"]["group"] is True
    assert by_id["core"]["components"] == ["api", "db"]  # by name: API, DB
    assert by_id["core"]["status"] == "major_outage"
    assert (by_id["db"]["status"], by_id["db"]["group_id"]) == ("major_outage", "core")
    assert (by_id["web"]["status"], by_id["web"]["group_id"]) == ("under_maintenance", None)
    assert by_id["api"]["status"] == "operational"
    [item] = data["incidents"]
    assert (item["name"], item["status"], item["impact"]) == (
        "Database down",
        "investigating",
        "critical",
    )
    assert item["shortlink"] == f"http://testserver/status/incidents/{incident.pk}/"
    assert item["components"][0]["id"] == "db"
    [window] = data["scheduled_maintenances"]
    assert (window["status"], window["impact"]) == ("in_progress", "maintenance")
    assert set(window) >= {"scheduled_for", "scheduled_until", "incident_updates", "components"}


def test_summary_json_reports_fixing_as_identified(incident: Any, anon: Client) -> None:
    services.add_update(incident.pk, message="Rolling back", status_change="fixing")

    [item] = json.loads(text(anon, "/status/summary.json"))["incidents"]

    assert item["status"] == "identified"
    assert [u["status"] for u in item["incident_updates"]] == ["identified"]


def test_the_banner_says_the_overall_state(incident: Any, anon: Client) -> None:
    body = text(anon, "/status/")

    assert '<h1 id="overall">' in body
    assert "Major outage" in body


def test_all_operational_without_incidents(systems: list[str], anon: Client) -> None:
    assert "All systems operational" in text(anon, "/status/")


def test_the_title_logo_and_accent_colour_come_from_the_settings(
    systems: list[str], anon: Client, settings: Any
) -> None:
    settings.CHECKSTACK_STATUS_TITLE = "Acme status"
    settings.CHECKSTACK_STATUS_LOGO_URL = "https://acme.example/logo.svg"
    settings.CHECKSTACK_STATUS_ACCENT_COLOR = "#ffcc00"

    body = text(anon, "/status/")

    assert "<title>Acme status</title>" in body
    assert 'src="https://acme.example/logo.svg"' in body
    assert "--accent: #ffcc00; --on-accent: #000000;" in body


@pytest.mark.parametrize("value", ["red", "#12345", "#fff;}body{display:none", ""])
def test_an_accent_colour_that_is_not_hex_falls_back_and_is_reported(
    settings: Any, value: str
) -> None:
    settings.CHECKSTACK_STATUS_ACCENT_COLOR = value

    assert page_settings.ACCENT_COLOR == DEFAULT_ACCENT
    assert [m.id for m in checks.run_checks() if m.id.startswith("statuspage.")] == [
        "statuspage.W001"
    ]


@pytest.mark.parametrize("color", ["#000", "#fff", "#767676", "#1f6feb", "#ffcc00", "#777777"])
def test_the_header_text_contrasts_with_any_accent_colour(color: str) -> None:
    ratio = contrast(color, text_color_on(color))

    assert ratio >= 4.5


def contrast(a: str, b: str) -> float:
    light, dark = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
