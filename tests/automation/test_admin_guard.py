"""Admin changelists filter only on what they offer, and bad query strings or action
selections get the admin's own answers, never a 500 (``checkstack.admin_guard``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from checkstack.automation import webhooks
from checkstack.automation.models import WebhookEndpoint
from checkstack.entities.models import Change
from tests.admin.helpers import make_systems
from tests.automation.test_admin_runs_webhooks import (
    DELIVERIES_URL,
    ENDPOINTS_URL,
    HOOK_URL,
    RUNS_URL,
    act,
    failed_delivery,
    messages_of,
    staff,
)

pytestmark = pytest.mark.django_db

CHANGES_URL = "/admin/entities/change/"
TRANSITIONS_URL = "/admin/entities/transition/"
ENTITY_DELIVERIES_URL = "/admin/entities/delivery/"


@pytest.fixture(autouse=True)
def private_urls(settings: Any) -> None:
    settings.CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def viewer() -> Client:
    """Staff with only view permissions (as a read-only operator would have)."""
    return staff(
        "vera",
        [
            "automation.view_webhookendpoint",
            "automation.view_webhookdelivery",
            "automation.view_automationrun",
            "entities.view_change",
            "entities.view_transition",
            "entities.view_delivery",
        ],
    )


@pytest.fixture
def superuser_client(django_user_model: Any) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def rows(response: Any) -> int:
    return int(response.context["cl"].result_count)


def test_a_view_only_user_cannot_probe_a_webhook_secret_through_lookups(viewer: Client) -> None:
    endpoint = webhooks.create_endpoint(url=HOOK_URL, events=["incident.created"])
    secret = WebhookEndpoint.objects.get(pk=endpoint.pk).secret

    for lookup in ("secret__startswith", "secret", "secret__exact", "secret__regex"):
        response = viewer.get(ENDPOINTS_URL, {lookup: secret[:8]})
        # was 1 row for a right prefix and 0 for a wrong one: the secret, character by character
        assert response.status_code == 400, lookup

    assert rows(viewer.get(ENDPOINTS_URL, {"enabled__exact": "1"})) == 1  # a list filter


@pytest.mark.parametrize(
    "query",
    [
        {"kind__regex": "["},  # a filtered field, but not with a pattern
        {"prev__contains": "1"},
        {"seq__in": "9" * 30},
        {"actor__icontains": "x"},
    ],
)
def test_lookups_the_changelist_does_not_offer_are_a_400(viewer: Client, query: Any) -> None:
    assert viewer.get(CHANGES_URL, query).status_code == 400


@pytest.mark.parametrize(
    ("url", "query"),
    [
        (CHANGES_URL, {"occurred_at__year": "9999"}),
        (CHANGES_URL, {"occurred_at__year": "9999", "occurred_at__month": "12"}),
        (CHANGES_URL, {"occurred_at__gte": "not a date"}),
        (TRANSITIONS_URL, {"field__exact": "9" * 30}),
        (ENDPOINTS_URL, {"enabled__exact": "maybe"}),
        (DELIVERIES_URL, {"endpoint__id__exact": "not-a-uuid"}),
        (ENTITY_DELIVERIES_URL, {"status__in": "x", "kind__exact": "\x00"}),
    ],
)
def test_bad_values_of_offered_lookups_get_the_admins_error_page(
    viewer: Client, url: str, query: Any
) -> None:
    response = viewer.get(url, query)

    assert response.status_code in (200, 302), response.status_code  # was 500 for some
    if response.status_code == 302:
        assert response["Location"].endswith("?e=1")
        assert viewer.get(response["Location"]).status_code == 200


def test_the_incident_admins_link_to_an_incidents_changes_still_filters(viewer: Client) -> None:
    make_systems("db")
    system_changes = Change.objects.filter(kind="catalog-system", entity_id="db").count()

    response = viewer.get(CHANGES_URL, {"kind": "catalog-system", "entity_id": "db"})

    assert response.status_code == 200
    assert rows(response) == system_changes == 1


@pytest.mark.parametrize("selected", ["nope", "9" * 30, "-1e5"])
@pytest.mark.parametrize(
    ("url", "action"),
    [
        (ENDPOINTS_URL, "send_test_ping"),
        (ENDPOINTS_URL, "delete_selected"),
        (RUNS_URL, "cancel_selected"),
        (DELIVERIES_URL, "redeliver_selected"),
        (ENTITY_DELIVERIES_URL, "retry_now"),
        (ENTITY_DELIVERIES_URL, "mark_dead"),
    ],
)
def test_actions_on_a_selection_that_cannot_exist_change_nothing(
    superuser_client: Client, url: str, action: str, selected: str
) -> None:
    endpoint = webhooks.create_endpoint(url=HOOK_URL, events=["incident.created"])
    failed_delivery(endpoint)

    response = act(superuser_client, url, action, [selected])

    assert response.status_code == 302  # was a 500 (ValidationError, ValueError, OverflowError)
    assert "No items have been changed" in " ".join(messages_of(response))
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_actions_on_real_selections_still_run(superuser_client: Client) -> None:
    endpoint = webhooks.create_endpoint(url=HOOK_URL, events=["incident.created"])

    response = superuser_client.post(
        ENDPOINTS_URL,
        {"action": "delete_selected", "_selected_action": [str(endpoint.pk)], "post": "yes"},
    )

    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists()
