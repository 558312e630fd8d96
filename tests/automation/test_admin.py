"""The automation admin: JSON textareas saved through the services, manage permission for writes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from checkstack.automation import services as automations
from checkstack.automation.models import Automation
from tests.admin.helpers import assert_saved, form_data, form_errors
from tests.api.helpers import make_user
from tests.automation.helpers import critical_incident_definition, grant

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/automation/automation/add/"
MODEL_PERMISSIONS = [
    f"automation.{action}_automation" for action in ("add", "change", "delete", "view")
]


def staff(username: str, permissions: list[str]) -> Client:
    user = make_user(username, is_staff=True)
    for permission in permissions:
        grant(user, permission)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator() -> Client:
    return staff("otto", [*MODEL_PERMISSIONS, "automation.manage_automation"])


@pytest.fixture
def clerk() -> Client:
    """Staff with every automation model permission but not ``manage_automation``."""
    return staff("clerk", MODEL_PERMISSIONS)


def submission(**fields: Any) -> dict[str, Any]:
    definition = {**critical_incident_definition(), **fields}
    return {
        "name": definition["name"],
        "description": definition.get("description", ""),
        "enabled": "on",
        "trigger": json.dumps(definition["trigger"]),
        "steps": json.dumps(definition["steps"]),
        "concurrency": json.dumps(definition.get("concurrency")),
    }


def test_admin_creates_an_automation_through_the_services(operator: Client) -> None:
    response = operator.post(ADD_URL, submission(concurrency={"mode": "single"}))

    assert_saved(response)
    stored = Automation.objects.get()
    assert stored.trigger == critical_incident_definition()["trigger"]
    assert stored.steps[0]["continue_on_error"] is False
    assert stored.concurrency == {"scope": "automation", "mode": "single", "max_runs": 5}


def test_admin_create_with_a_bad_step_shows_the_service_message_and_creates_nothing(
    operator: Client,
) -> None:
    steps = [{"id": "page", "action": "pager.page", "config": {}}]

    response = operator.post(ADD_URL, submission(steps=steps))

    assert response.status_code == 200
    assert form_errors(response) == {
        "": {"steps": ["Step 'page': action 'pager.page' is not registered."]}
    }
    assert not Automation.objects.exists()


def test_admin_create_with_a_bad_filter_names_trigger_filter(operator: Client) -> None:
    trigger = {"event": "incident.created", "filter": "trigger.payload.severity =="}

    response = operator.post(ADD_URL, submission(trigger=trigger))

    errors = form_errors(response)[""]
    assert list(errors) == ["trigger"]
    assert errors["trigger"][0].startswith("trigger.filter: not a valid Jinja2 expression:")
    assert not Automation.objects.exists()


def test_admin_change_form_round_trips_the_json(operator: Client) -> None:
    automation = automations.create_automation(**critical_incident_definition())
    url = f"/admin/automation/automation/{automation.pk}/change/"
    data = form_data(operator, url, "automation_form")
    steps = json.loads(data["steps"])
    steps[0]["continue_on_error"] = True
    data["steps"] = json.dumps(steps)

    assert_saved(operator.post(url, data))

    stored = Automation.objects.get(pk=automation.pk)
    assert stored.steps[0]["continue_on_error"] is True
    assert stored.trigger == automation.trigger


def test_admin_change_with_a_bad_config_keeps_the_stored_definition(operator: Client) -> None:
    automation = automations.create_automation(**critical_incident_definition())
    url = f"/admin/automation/automation/{automation.pk}/change/"
    data = form_data(operator, url, "automation_form")
    data["steps"] = json.dumps([{"id": "note", "action": "incident.add_update", "config": {}}])

    response = operator.post(url, data)

    assert form_errors(response) == {
        "": {"steps": ["Step 'note', config field 'message': Field required"]}
    }
    assert Automation.objects.get(pk=automation.pk).steps == automation.steps


def test_admin_delete_goes_through_the_services(operator: Client) -> None:
    automation = automations.create_automation(**critical_incident_definition())

    response = operator.post(
        f"/admin/automation/automation/{automation.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Automation.objects.exists()


def test_staff_without_manage_automation_cannot_add_or_change(clerk: Client) -> None:
    automation = automations.create_automation(**critical_incident_definition())

    assert clerk.post(ADD_URL, submission()).status_code == 403
    change = clerk.post(
        f"/admin/automation/automation/{automation.pk}/change/", submission(name="Renamed")
    )

    assert change.status_code == 403
    assert Automation.objects.get().name == automation.name
