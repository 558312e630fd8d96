"""``webhook.send`` step URLs are SSRF-checked when an automation is saved (service, API,
admin), with the webhook endpoints' rules; templated URLs are checked when a run sends."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from checkstack.automation import http
from checkstack.automation import services as automations
from checkstack.automation.models import Automation
from tests.admin.helpers import form_errors
from tests.api.helpers import make_user
from tests.automation.helpers import critical_incident_definition, grant

pytestmark = pytest.mark.django_db

AUTOMATIONS = "/api/automation/automations/"
PRIVATE_URL = "http://127.0.0.1:9/hook"
PUBLIC_URL = "https://93.184.216.34/hook"  # an address literal: no DNS lookup
LOOPBACK_MESSAGE = (
    f"Step 'page', config field 'url': {http.PRIVATE_MESSAGE}: 127.0.0.1 is a loopback address."
)


@pytest.fixture
def private_refused(settings: Any) -> None:
    settings.CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = False


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Host names looked up; ``nowhere.example`` does not resolve, numeric hosts do."""
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        if host == "nowhere.example":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def definition(url: str, **fields: Any) -> dict[str, Any]:
    base = critical_incident_definition()
    page = {"id": "page", "action": "webhook.send", "config": {"url": url}}
    return {**base, "steps": [*base["steps"], page], **fields}


@pytest.fixture
def automator() -> APIClient:
    client = APIClient()
    client.force_login(grant(make_user("otto"), "automation.manage_automation"))
    return client


# -- services -------------------------------------------------------------------------------


def test_a_literal_private_url_is_refused_at_save_naming_the_step_and_field(
    private_refused: None,
) -> None:
    with pytest.raises(ValidationError) as exc:
        automations.create_automation(**definition(PRIVATE_URL))
    assert exc.value.message_dict == {"steps": [LOOPBACK_MESSAGE]}
    assert not Automation.objects.exists()


def test_a_literal_url_whose_host_does_not_resolve_is_refused(
    private_refused: None, lookups: list[str]
) -> None:
    with pytest.raises(ValidationError) as exc:
        automations.create_automation(**definition("https://nowhere.example/in"))
    assert exc.value.message_dict == {
        "steps": [
            "Step 'page', config field 'url': The host nowhere.example could not be resolved."
        ]
    }


def test_a_literal_public_url_is_accepted(private_refused: None) -> None:
    saved = automations.create_automation(**definition(PUBLIC_URL))
    assert saved.steps[1]["config"] == {"url": PUBLIC_URL}


def test_a_templated_url_is_left_to_the_run(private_refused: None, lookups: list[str]) -> None:
    url = "http://{{ trigger.payload.host }}/hook"
    saved = automations.create_automation(**definition(url))
    assert saved.steps[1]["config"]["url"] == url
    assert lookups == []


def test_with_private_addresses_allowed_only_the_syntax_is_checked(lookups: list[str]) -> None:
    automations.create_automation(**definition("https://nowhere.example/in"))
    assert lookups == []


def test_a_url_the_schema_refuses_gets_one_message(private_refused: None) -> None:
    with pytest.raises(ValidationError) as exc:
        automations.create_automation(**definition("ftp://127.0.0.1/x"))
    (message,) = exc.value.message_dict["steps"]
    assert message.startswith("Step 'page', config field 'url':")
    assert "http:// or https://" in message


def test_an_update_of_other_fields_does_not_check_the_stored_urls(settings: Any) -> None:
    saved = automations.create_automation(**definition(PRIVATE_URL))  # allowed then
    settings.CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = False

    updated = automations.update_automation(saved.pk, enabled=False)

    assert updated.enabled is False
    with pytest.raises(ValidationError) as exc:
        automations.update_automation(saved.pk, steps=saved.steps)
    assert exc.value.message_dict == {"steps": [LOOPBACK_MESSAGE]}


# -- API ------------------------------------------------------------------------------------


def test_api_create_with_a_private_step_url_is_400_and_saves_nothing(
    private_refused: None, automator: APIClient
) -> None:
    response = automator.post(AUTOMATIONS, definition(PRIVATE_URL), format="json")

    assert response.status_code == 400
    assert response.json() == {"steps": [LOOPBACK_MESSAGE]}
    assert not Automation.objects.exists()


def test_api_patch_with_a_private_step_url_is_400_and_keeps_the_steps(
    private_refused: None, automator: APIClient
) -> None:
    saved = automations.create_automation(**definition(PUBLIC_URL))
    steps = json.loads(json.dumps(saved.steps))
    steps[1]["config"]["url"] = PRIVATE_URL

    response = automator.patch(f"{AUTOMATIONS}{saved.pk}/", {"steps": steps}, format="json")

    assert response.status_code == 400
    assert response.json() == {"steps": [LOOPBACK_MESSAGE]}
    assert Automation.objects.get(pk=saved.pk).steps[1]["config"]["url"] == PUBLIC_URL


# -- admin ----------------------------------------------------------------------------------


def test_admin_create_with_a_private_step_url_shows_the_message_and_creates_nothing(
    private_refused: None,
) -> None:
    user = make_user("ada", is_staff=True)
    for action in ("add", "change", "view"):
        grant(user, f"automation.{action}_automation")
    grant(user, "automation.manage_automation")
    client = Client()
    client.force_login(user)
    fields = definition(PRIVATE_URL)

    response = client.post(
        "/admin/automation/automation/add/",
        {
            "name": fields["name"],
            "description": "",
            "enabled": "on",
            "trigger": json.dumps(fields["trigger"]),
            "steps": json.dumps(fields["steps"]),
            "concurrency": "null",
        },
    )

    assert response.status_code == 200
    assert form_errors(response) == {"": {"steps": [LOOPBACK_MESSAGE]}}
    assert not Automation.objects.exists()
