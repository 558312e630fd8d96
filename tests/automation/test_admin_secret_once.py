"""A new webhook endpoint's signing secret is shown once by the admin, on a page rendered from
the server-side session, and never travels in a cookie (the messages cookie is signed, not
encrypted) or a URL."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest
from django.test import Client

from checkstack.automation.models import WebhookEndpoint
from checkstack.one_time_secrets import SESSION_KEY
from tests.api.helpers import make_user
from tests.automation.helpers import grant

pytestmark = pytest.mark.django_db

ENDPOINTS_URL = "/admin/automation/webhookendpoint/"
HOOK_URL = "http://127.0.0.1:9/hook"
PERMISSIONS = [
    *(f"automation.{action}_webhookendpoint" for action in ("add", "change", "delete", "view")),
    "automation.manage_automation",
]
ADD = {
    "url": HOOK_URL,
    "events": '["incident.created"]',
    "system_ids": "",
    "description": "Pager",
    "enabled": "on",
}


def staff(username: str) -> Client:
    user = make_user(username, is_staff=True)
    for permission in PERMISSIONS:
        grant(user, permission)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator() -> Client:
    return staff("otto")


def cookie_texts(response: Any) -> list[str]:
    """Every cookie the response sets, raw and (the messages cookie) decoded."""
    texts = []
    for name, morsel in response.cookies.items():
        texts.append(morsel.value)
        if name == "messages" and morsel.value:
            decoded = CookieStorage(HttpRequest())._decode(morsel.value)
            texts.extend(str(message) for message in decoded or [])
    return texts


def assert_nowhere_but_the_body(response: Any, secret: str) -> None:
    assert not any(secret in text for text in cookie_texts(response))
    assert secret not in response.get("Location", "")
    assert secret not in str(response.wsgi_request.get_full_path())


def test_adding_an_endpoint_leads_to_a_page_showing_its_secret_once(operator: Client) -> None:
    response = operator.post(f"{ENDPOINTS_URL}add/", ADD)

    stored = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{ENDPOINTS_URL}{stored.pk}/secret/"
    assert "messages" in response.cookies  # the "added" message: it is there, without secret
    assert_nowhere_but_the_body(response, stored.secret)

    shown = operator.get(response["Location"])
    assert shown.status_code == 200
    assert stored.secret in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    assert_nowhere_but_the_body(shown, stored.secret)

    again = operator.get(response["Location"])
    assert again.status_code == 410
    assert stored.secret not in again.content.decode()
    assert "was shown once" in again.content.decode()
    assert SESSION_KEY not in operator.session


def test_the_secret_is_on_no_other_page(operator: Client) -> None:
    response = operator.post(f"{ENDPOINTS_URL}add/", {**ADD, "_continue": "Save"})
    stored = WebhookEndpoint.objects.get()
    listing = operator.get(ENDPOINTS_URL)  # shows the pending messages
    page = operator.get(f"{ENDPOINTS_URL}{stored.pk}/change/")

    assert response["Location"] == f"{ENDPOINTS_URL}{stored.pk}/secret/"
    for other in (listing, page):
        assert other.status_code == 200
        assert stored.secret not in other.content.decode()
        assert_nowhere_but_the_body(other, stored.secret)
    assert 'name="secret"' not in page.content.decode()


def test_another_user_opening_the_page_does_not_get_the_secret(operator: Client) -> None:
    response = operator.post(f"{ENDPOINTS_URL}add/", ADD)
    stored = WebhookEndpoint.objects.get()

    stranger = staff("eve").get(response["Location"])
    shown = operator.get(response["Location"])

    assert stranger.status_code == 410
    assert stored.secret not in stranger.content.decode()
    assert stored.secret in shown.content.decode()  # still there for the one who added it


def test_the_page_needs_view_permission_and_an_existing_endpoint(operator: Client) -> None:
    operator.post(f"{ENDPOINTS_URL}add/", ADD)
    stored = WebhookEndpoint.objects.get()
    outsider = Client()
    outsider.force_login(make_user("mallory", is_staff=True))

    assert outsider.get(f"{ENDPOINTS_URL}{stored.pk}/secret/").status_code == 403
    missing = operator.get(f"{ENDPOINTS_URL}00000000-0000-0000-0000-000000000000/secret/")
    assert missing.status_code == 404


def test_a_refused_add_keeps_no_secret(operator: Client) -> None:
    response = operator.post(f"{ENDPOINTS_URL}add/", {**ADD, "url": "ftp://127.0.0.1/x"})

    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()
    assert SESSION_KEY not in operator.session


def test_with_cookie_sessions_the_add_response_itself_shows_the_secret(
    settings: Any,
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    operator = staff("otto")

    response = operator.post(f"{ENDPOINTS_URL}add/", ADD)

    stored = WebhookEndpoint.objects.get()
    assert response.status_code == 200
    assert stored.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert_nowhere_but_the_body(response, stored.secret)
