"""The automation rows of api.md: registries and automations."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from checkstack.automation import services as automations
from checkstack.automation.models import Automation
from tests.api.helpers import make_user, patch, post, raw
from tests.automation.helpers import critical_incident_definition, grant

pytestmark = pytest.mark.django_db

AUTOMATIONS = "/api/automation/automations/"


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def reader() -> APIClient:
    """Logged in, without ``manage_automation`` (but managing incidents and the catalog)."""
    user = make_user("rita")
    grant(user, "incidents.manage_incident")
    grant(user, "catalog.manage_catalog")
    return client_for(user)


@pytest.fixture
def automator() -> APIClient:
    return client_for(grant(make_user("otto"), "automation.manage_automation"))


@pytest.fixture
def automation() -> Automation:
    return automations.create_automation(**critical_incident_definition())


# -- registries -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/automation/triggers/", "/api/automation/actions/", "/api/automation/artifact-types/"],
)
def test_registries_render_in_the_browsable_api(reader: APIClient, path: str) -> None:
    for response in (
        reader.get(path, HTTP_ACCEPT="text/html"),
        reader.get(path, {"format": "api"}),
        reader.head(path, HTTP_ACCEPT="text/html"),
    ):
        assert response.status_code == 200  # was a 500: they have no queryset to filter
        assert response["Content-Type"].startswith("text/html")
    assert "incident" in reader.get(path, HTTP_ACCEPT="text/html").content.decode()


def test_triggers_list_incident_and_catalog_triggers_with_payload_schemas(
    reader: APIClient,
) -> None:
    response = reader.get("/api/automation/triggers/")

    assert response.status_code == 200
    by_id = {trigger["id"]: trigger for trigger in response.json()}
    assert {"incident.created", "incident.resolved", "catalog.created", "catalog.deleted"} <= set(
        by_id
    )
    created = by_id["incident.created"]
    assert created["category"] == "Incidents"
    assert created["display_name"] == "Incident created"
    assert "incidentId" in created["payload_schema"]["properties"]
    assert "systemId" in by_id["catalog.created"]["payload_schema"]["required"]


def test_actions_list_incident_and_catalog_actions_with_config_schemas(reader: APIClient) -> None:
    response = reader.get("/api/automation/actions/")

    assert response.status_code == 200
    by_id = {action["id"]: action for action in response.json()}
    resolve = by_id["incident.resolve"]
    assert resolve["produces"] == "incident"
    assert resolve["consumes"] == ["incident"]
    assert set(resolve["config_schema"]["properties"]) == {"incident_id", "message"}
    metadata = by_id["catalog.update_metadata"]
    assert metadata["consumes"] == []
    assert "system_id" in metadata["config_schema"]["required"]


def test_artifact_types_list_their_schemas(reader: APIClient) -> None:
    response = reader.get("/api/automation/artifact-types/")

    assert response.status_code == 200
    by_id = {artifact["id"]: artifact for artifact in response.json()}
    assert {"incident", "incident.update", "catalog.system_record"} <= set(by_id)
    assert "incidentId" in by_id["incident"]["schema"]["properties"]


@pytest.mark.parametrize("registry", ["triggers", "actions", "artifact-types"])
def test_registries_need_a_logged_in_user(anon: APIClient, registry: str) -> None:
    assert anon.get(f"/api/automation/{registry}/").status_code == 401


# -- automations: success ---------------------------------------------------------------------


def test_create_answers_201_with_the_automation(automator: APIClient) -> None:
    response = post(automator, AUTOMATIONS, critical_incident_definition())

    assert response.status_code == 201
    data = response.json()
    stored = Automation.objects.get(pk=data["id"])
    assert data == {
        "id": stored.pk,
        "name": "Critical incident note",
        "description": "",
        "enabled": True,
        "trigger": stored.trigger,
        "steps": [
            {
                "id": "note",
                "action": "incident.add_update",
                "config": {"message": "Paged on-call for {{ trigger.payload.title }}"},
                "continue_on_error": False,
            }
        ],
        "concurrency": {"scope": "automation", "mode": "parallel", "max_runs": 5},
        "created_at": data["created_at"],
        "updated_at": data["updated_at"],
    }
    assert data["created_at"].endswith("Z")


def test_list_is_paginated(automator: APIClient, automation: Automation) -> None:
    response = automator.get(AUTOMATIONS)

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 1
    assert [row["id"] for row in data["results"]] == [automation.pk]


def test_retrieve_answers_the_automation(automator: APIClient, automation: Automation) -> None:
    response = automator.get(f"{AUTOMATIONS}{automation.pk}/")

    assert response.status_code == 200
    assert response.json()["trigger"] == automation.trigger


def test_patch_changes_the_given_fields(automator: APIClient, automation: Automation) -> None:
    response = patch(
        automator,
        f"{AUTOMATIONS}{automation.pk}/",
        {"enabled": False, "concurrency": {"scope": "context_key", "mode": "restart"}},
    )

    assert response.status_code == 200
    stored = Automation.objects.get(pk=automation.pk)
    assert stored.enabled is False
    assert stored.concurrency == {"scope": "context_key", "mode": "restart", "max_runs": 5}
    assert response.json()["concurrency"] == stored.concurrency
    assert stored.name == automation.name


def test_delete_answers_204(automator: APIClient, automation: Automation) -> None:
    response = automator.delete(f"{AUTOMATIONS}{automation.pk}/")

    assert response.status_code == 204
    assert not Automation.objects.exists()


# -- automations: errors ----------------------------------------------------------------------


def test_create_with_an_unregistered_action_is_400_naming_the_step(automator: APIClient) -> None:
    definition = {
        **critical_incident_definition(),
        "steps": [{"id": "page", "action": "pager.page", "config": {}}],
    }

    response = post(automator, AUTOMATIONS, definition)

    assert response.status_code == 400
    assert response.json() == {"steps": ["Step 'page': action 'pager.page' is not registered."]}
    assert not Automation.objects.exists()


def test_create_with_a_missing_config_field_is_400(automator: APIClient) -> None:
    definition = {
        **critical_incident_definition(),
        "steps": [{"id": "note", "action": "incident.add_update", "config": {}}],
    }

    response = post(automator, AUTOMATIONS, definition)

    assert response.status_code == 400
    assert response.json() == {"steps": ["Step 'note', config field 'message': Field required"]}


def test_create_with_unknown_field_is_400(automator: APIClient) -> None:
    response = post(automator, AUTOMATIONS, {**critical_incident_definition(), "owner": "me"})

    assert response.status_code == 400
    assert response.json() == {"owner": ["Unknown field."]}


def test_create_without_trigger_and_steps_is_400(automator: APIClient) -> None:
    response = post(automator, AUTOMATIONS, {"name": "Empty"})

    assert response.status_code == 400
    assert set(response.json()) == {"trigger", "steps"}


def test_nul_in_a_step_config_is_400(automator: APIClient) -> None:
    definition = critical_incident_definition()
    definition["steps"][0]["config"]["message"] = "a\x00b"

    response = post(automator, AUTOMATIONS, definition)

    assert response.status_code == 400
    assert "steps" in response.json()
    assert not Automation.objects.exists()


def test_malformed_json_is_400(automator: APIClient) -> None:
    response = raw(automator, "POST", AUTOMATIONS, '{"name": ')

    assert response.status_code == 400


def test_patch_with_a_bad_filter_is_400_and_changes_nothing(
    automator: APIClient, automation: Automation
) -> None:
    response = patch(
        automator,
        f"{AUTOMATIONS}{automation.pk}/",
        {"trigger": {"event": "incident.created", "filter": "severity =="}},
    )

    assert response.status_code == 400
    assert response.json()["trigger"][0].startswith("trigger.filter:")
    assert Automation.objects.get(pk=automation.pk).trigger == automation.trigger


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_unknown_automation_is_404(automator: APIClient, method: str) -> None:
    response = getattr(automator, method)(f"{AUTOMATIONS}nope/", {}, format="json")

    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", AUTOMATIONS),
        ("post", AUTOMATIONS),
        ("get", f"{AUTOMATIONS}some-id/"),
        ("patch", f"{AUTOMATIONS}some-id/"),
        ("delete", f"{AUTOMATIONS}some-id/"),
    ],
)
def test_anonymous_is_401(anon: APIClient, method: str, path: str) -> None:
    assert getattr(anon, method)(path, {}, format="json").status_code == 401


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_without_manage_automation_even_reading_is_403(
    reader: APIClient, automation: Automation, method: str
) -> None:
    response = getattr(reader, method)(f"{AUTOMATIONS}{automation.pk}/", {}, format="json")

    assert response.status_code == 403
    assert Automation.objects.filter(pk=automation.pk, enabled=True).exists()


def test_without_manage_automation_listing_and_creating_is_403(reader: APIClient) -> None:
    assert reader.get(AUTOMATIONS).status_code == 403
    assert post(reader, AUTOMATIONS, critical_incident_definition()).status_code == 403
    assert not Automation.objects.exists()


def test_superuser_may_manage_automations(superuser_client: APIClient) -> None:
    response = post(superuser_client, AUTOMATIONS, critical_incident_definition())

    assert response.status_code == 201
