"""The run and webhook admins: read-only run and delivery logs with service-backed actions,
endpoints written through the webhook services with the secret shown once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from checkstack.automation import services as automations
from checkstack.automation import webhooks
from checkstack.automation.models import (
    Automation,
    AutomationRun,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.admin.helpers import assert_saved, form_data, form_errors
from tests.api.helpers import make_user
from tests.automation.helpers import critical_incident_definition, grant, make_run

pytestmark = pytest.mark.django_db

RUNS_URL = "/admin/automation/automationrun/"
ENDPOINTS_URL = "/admin/automation/webhookendpoint/"
DELIVERIES_URL = "/admin/automation/webhookdelivery/"
HOOK_URL = "http://127.0.0.1:9/hook"
VIEW_PERMISSIONS = [
    "automation.view_automationrun",
    "automation.view_webhookdelivery",
    *(f"automation.{a}_webhookendpoint" for a in ("add", "change", "delete", "view")),
]


@pytest.fixture(autouse=True)
def private_urls(settings: Any) -> None:
    settings.CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = True


def staff(username: str, permissions: list[str]) -> Client:
    user = make_user(username, is_staff=True)
    for permission in permissions:
        grant(user, permission)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator() -> Client:
    return staff("otto", [*VIEW_PERMISSIONS, "automation.manage_automation"])


@pytest.fixture
def clerk() -> Client:
    """Staff with every model permission of runs and webhooks but not ``manage_automation``."""
    return staff("clerk", VIEW_PERMISSIONS)


@pytest.fixture
def automation() -> Automation:
    return automations.create_automation(**critical_incident_definition())


@pytest.fixture
def endpoint() -> WebhookEndpoint:
    return webhooks.create_endpoint(url=HOOK_URL, events=["incident.created"])


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def act(client: Client, url: str, action: str, ids: list[Any]) -> Any:
    return client.post(url, {"action": action, "_selected_action": [str(i) for i in ids]})


def failed_delivery(endpoint: WebhookEndpoint) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        trigger_event_id=uuid.uuid4(),
        event_type="incident.created",
        status="failed",
        attempts=1,
        max_attempts=1,
        last_status_code=410,
        last_error="HTTP 410",
        finished_at=timezone.now(),
    )
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=1,
        status_code=410,
        duration_ms=7,
        response_excerpt="endpoint gone for good",
        outcome="failed",
    )
    return delivery


# -- runs -------------------------------------------------------------------------------------


def test_run_changelist_lists_runs_and_filters_by_status(
    operator: Client, automation: Automation
) -> None:
    make_run(automation, context_key="incident:alpha")
    make_run(automation, status="failed", context_key="incident:beta")

    everything = operator.get(RUNS_URL)
    failed = operator.get(RUNS_URL + "?status__exact=failed")

    assert everything.status_code == 200
    assert {str(r.context_key) for r in everything.context["cl"].result_list} == {
        "incident:alpha",
        "incident:beta",
    }
    assert [r.context_key for r in failed.context["cl"].result_list] == ["incident:beta"]


def test_run_changelist_searches_by_context_key_and_id(
    operator: Client, automation: Automation
) -> None:
    alpha = make_run(automation, context_key="incident:alpha")
    make_run(automation, context_key="incident:beta")

    by_key = operator.get(RUNS_URL, {"q": "alpha"})
    by_id = operator.get(RUNS_URL, {"q": str(alpha.pk)})
    with_nul = operator.get(RUNS_URL, {"q": "alp\x00ha"})

    assert [r.pk for r in by_key.context["cl"].result_list] == [alpha.pk]
    assert [r.pk for r in by_id.context["cl"].result_list] == [alpha.pk]
    assert with_nul.status_code == 200


def test_run_change_page_shows_steps_and_artifacts_read_only(
    operator: Client, automation: Automation
) -> None:
    run = make_run(automation, steps=2)

    response = operator.get(f"{RUNS_URL}{run.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "note0" in page and "note1" in page
    assert "upd-1" in page  # the artifact's external id
    assert 'name="_save"' not in page
    assert not response.context["has_change_permission"]


def test_runs_cannot_be_added_edited_or_deleted_in_the_admin(
    operator: Client, automation: Automation
) -> None:
    run = make_run(automation)

    assert operator.get(f"{RUNS_URL}add/").status_code == 403
    assert operator.post(f"{RUNS_URL}{run.pk}/delete/", {"post": "yes"}).status_code == 403
    operator.post(f"{RUNS_URL}{run.pk}/change/", {"status": "success"})
    assert AutomationRun.objects.get().status == "running"


def test_cancel_action_cancels_active_runs_and_warns_about_finished_ones(
    operator: Client, automation: Automation
) -> None:
    active = make_run(automation)
    finished = make_run(automation, status="success", context_key="incident:done")

    response = act(operator, RUNS_URL, "cancel_selected", [active.pk, finished.pk])

    assert response.status_code == 302
    assert AutomationRun.objects.get(pk=active.pk).status == "cancelled"
    assert AutomationRun.objects.get(pk=finished.pk).status == "success"
    levels = {str(m): m.level_tag for m in get_messages(response.wsgi_request)}
    assert levels == {
        f"Run {active.pk} cancelled.": "success",
        f"Run {finished.pk} is already success": "warning",
    }


def test_cancel_action_needs_manage_automation(clerk: Client, automation: Automation) -> None:
    run = make_run(automation)

    listing = clerk.get(RUNS_URL)
    response = act(clerk, RUNS_URL, "cancel_selected", [run.pk])

    assert listing.status_code == 200
    assert "cancel_selected" not in listing.content.decode()
    assert response.status_code == 200  # no such action offered: the list is shown again
    assert AutomationRun.objects.get().status == "running"


# -- webhook endpoints ------------------------------------------------------------------------


# Adding an endpoint and the one-time page of its secret: test_admin_secret_once.py.


def test_adding_an_endpoint_with_a_bad_url_shows_the_service_message(operator: Client) -> None:
    response = operator.post(
        f"{ENDPOINTS_URL}add/", {"url": "ftp://127.0.0.1/x", "events": "", "enabled": "on"}
    )

    assert response.status_code == 200
    errors = form_errors(response)
    assert list(errors[""]) == ["url"]
    assert not WebhookEndpoint.objects.exists()


def test_editing_an_endpoint_goes_through_the_service(
    operator: Client, endpoint: WebhookEndpoint
) -> None:
    url = f"{ENDPOINTS_URL}{endpoint.pk}/change/"
    data = form_data(operator, url, "webhookendpoint_form")
    data["events"] = '["incident.created", "incident.resolved"]'

    assert_saved(operator.post(url, data))

    stored = WebhookEndpoint.objects.get()
    assert stored.events == ["incident.created", "incident.resolved"]
    assert stored.secret == endpoint.secret
    assert stored.url == HOOK_URL


def test_editing_with_an_unregistered_event_shows_the_service_message(
    operator: Client, endpoint: WebhookEndpoint
) -> None:
    url = f"{ENDPOINTS_URL}{endpoint.pk}/change/"
    data = form_data(operator, url, "webhookendpoint_form")
    data["events"] = '["no.such.trigger"]'

    response = operator.post(url, data)

    assert response.status_code == 200
    assert "events" in form_errors(response)[""]
    assert WebhookEndpoint.objects.get().events == ["incident.created"]


def test_auto_disabled_endpoints_are_flagged_with_the_reason(
    operator: Client, endpoint: WebhookEndpoint
) -> None:
    healthy = webhooks.create_endpoint(url=f"{HOOK_URL}/ok")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_at=timezone.now(), disabled_reason="20 consecutive failures"
    )

    flagged = operator.get(ENDPOINTS_URL, {"auto_disabled": "yes"})
    change_page = operator.get(f"{ENDPOINTS_URL}{endpoint.pk}/change/").content.decode()

    assert [e.pk for e in flagged.context["cl"].result_list] == [endpoint.pk]
    assert [
        e.pk for e in operator.get(ENDPOINTS_URL, {"auto_disabled": "no"}).context["cl"].result_list
    ] == [healthy.pk]
    assert "20 consecutive failures" in change_page
    assert "auto-disabled" in operator.get(ENDPOINTS_URL).content.decode().lower()


def test_deleting_an_endpoint_goes_through_the_service(
    operator: Client, endpoint: WebhookEndpoint
) -> None:
    failed_delivery(endpoint)

    response = operator.post(f"{ENDPOINTS_URL}{endpoint.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_deleting_an_automation_with_runs_deletes_them_too(automation: Automation) -> None:
    """Runs are never deleted by hand, but they do not stand in the way of their automation."""
    admin_user = staff("ada", ["automation.delete_automation", "automation.manage_automation"])
    make_run(automation)

    response = admin_user.post(
        f"/admin/automation/automation/{automation.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Automation.objects.exists()
    assert not AutomationRun.objects.exists()


def test_send_test_ping_action_queues_a_ping_per_endpoint(
    operator: Client, endpoint: WebhookEndpoint
) -> None:
    response = act(operator, ENDPOINTS_URL, "send_test_ping", [endpoint.pk])

    assert response.status_code == 302
    ping = WebhookDelivery.objects.get()
    assert (ping.endpoint_id, ping.event_type, ping.status) == (
        endpoint.pk,
        "webhook.ping",
        "pending",
    )
    assert messages_of(response) == [f"Test ping {ping.message_id} queued for {HOOK_URL}."]


def test_endpoint_writes_and_ping_need_manage_automation(
    clerk: Client, endpoint: WebhookEndpoint
) -> None:
    assert clerk.get(ENDPOINTS_URL).status_code == 200
    assert clerk.get(f"{ENDPOINTS_URL}add/").status_code == 403
    act(clerk, ENDPOINTS_URL, "send_test_ping", [endpoint.pk])
    clerk.post(f"{ENDPOINTS_URL}{endpoint.pk}/delete/", {"post": "yes"})

    assert WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()


# -- deliveries -------------------------------------------------------------------------------


def test_delivery_pages_render_with_attempts(operator: Client, endpoint: WebhookEndpoint) -> None:
    delivery = failed_delivery(endpoint)

    listing = operator.get(DELIVERIES_URL, {"status__exact": "failed"})
    page = operator.get(f"{DELIVERIES_URL}{delivery.pk}/change/")

    assert [d.pk for d in listing.context["cl"].result_list] == [delivery.pk]
    assert page.status_code == 200
    assert "endpoint gone for good" in page.content.decode()
    assert operator.get(f"{DELIVERIES_URL}add/").status_code == 403


def test_redeliver_action_queues_deliveries_and_warns_while_sending(
    operator: Client, endpoint: WebhookEndpoint
) -> None:
    failed = failed_delivery(endpoint)
    sending = WebhookDelivery.objects.create(
        endpoint=endpoint,
        trigger_event_id=uuid.uuid4(),
        event_type="incident.created",
        status="sending",
    )

    response = act(operator, DELIVERIES_URL, "redeliver_selected", [failed.pk, sending.pk])

    assert response.status_code == 302
    assert WebhookDelivery.objects.get(pk=failed.pk).status == "pending"
    assert WebhookDelivery.objects.get(pk=sending.pk).status == "sending"
    levels = [m.level_tag for m in get_messages(response.wsgi_request)]
    assert sorted(levels) == ["success", "warning"]


def test_redeliver_action_needs_manage_automation(clerk: Client, endpoint: WebhookEndpoint) -> None:
    delivery = failed_delivery(endpoint)

    act(clerk, DELIVERIES_URL, "redeliver_selected", [delivery.pk])

    assert WebhookDelivery.objects.get().status == "failed"
