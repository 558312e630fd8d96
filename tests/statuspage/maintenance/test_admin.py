"""The maintenance admin: writes through the services, refusals on the form (nothing written),
the read-only timeline, the start/complete/cancel actions, the manage permission."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from statuspage.maintenance import services
from statuspage.models import Maintenance
from tests.admin.conftest import staff_client
from tests.admin.helpers import assert_saved, form_data, form_errors
from tests.statuspage.maintenance.helpers import HOUR, changes, make_maintenance, reload, running

pytestmark = pytest.mark.django_db

CHANGELIST_URL = "/admin/statuspage/maintenance/"
ADD_URL = f"{CHANGELIST_URL}add/"
FORM_ID = "maintenance_form"
MODEL_PERMISSIONS = [
    f"statuspage.{action}_{model}"
    for action in ("add", "change", "delete", "view")
    for model in ("maintenance", "maintenanceupdate")
]


def change_url(maintenance_id: str) -> str:
    return f"{CHANGELIST_URL}{maintenance_id}/change/"


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def window_fields(start_in: Any = HOUR, length: Any = HOUR) -> dict[str, str]:
    starts_at = timezone.localtime(timezone.now() + start_in).replace(second=0, microsecond=0)
    ends_at = starts_at + length
    return {
        "starts_at_0": starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": starts_at.strftime("%H:%M:%S"),
        "ends_at_0": ends_at.strftime("%Y-%m-%d"),
        "ends_at_1": ends_at.strftime("%H:%M:%S"),
    }


@pytest.fixture
def operator_client(db: None, django_user_model: Any) -> Client:
    """Staff with the maintenance model permissions and ``incidents.manage_incident``."""
    return staff_client(
        django_user_model, "operator", [*MODEL_PERMISSIONS, "incidents.manage_incident"]
    )


@pytest.fixture
def clerk_client(db: None, django_user_model: Any) -> Client:
    """Staff with every maintenance model permission but not the manage one."""
    return staff_client(django_user_model, "clerk", MODEL_PERMISSIONS)


def test_adding_schedules_through_the_service(operator_client: Client, systems: list[str]) -> None:
    data = form_data(operator_client, ADD_URL, FORM_ID)
    data.update(title="Failover", system_ids="web, db", visibility="logged_in", **window_fields())

    assert_saved(operator_client.post(ADD_URL, data))

    maintenance = Maintenance.objects.get()
    assert maintenance.title == "Failover"
    assert maintenance.visibility == "logged_in"
    assert sorted(s.system_id for s in maintenance.systems.all()) == ["db", "web"]
    (created,) = changes(maintenance.pk)
    assert created.actor["type"] == "user"


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        ({"ends_at_1": "same"}, "ends_at"),
        ({"system_ids": "db, ghost"}, "system_ids"),
        ({"system_ids": ""}, "system_ids"),
        ({"title": ""}, "title"),
        ({"starts_at_0": "", "starts_at_1": ""}, "starts_at"),
    ],
)
def test_a_refused_submission_shows_the_service_message_and_writes_nothing(
    operator_client: Client, systems: list[str], edit: dict[str, str], field: str
) -> None:
    data = form_data(operator_client, ADD_URL, FORM_ID)
    data.update(title="Failover", system_ids="db", **window_fields())
    data.update(edit)
    if edit.get("ends_at_1") == "same":
        data["ends_at_0"], data["ends_at_1"] = data["starts_at_0"], data["starts_at_1"]

    response = operator_client.post(ADD_URL, data)

    assert response.status_code == 200
    assert field in form_errors(response)[""]
    assert not Maintenance.objects.exists()


def test_editing_updates_through_the_service_and_shows_the_timeline(
    operator_client: Client, systems: list[str]
) -> None:
    maintenance = running(["db"])
    services.add_update(maintenance.pk, message="Half way there")
    data = form_data(operator_client, change_url(maintenance.pk), FORM_ID)
    data["system_ids"] = "db, api"

    assert_saved(operator_client.post(change_url(maintenance.pk), data))

    assert sorted(s.system_id for s in reload(maintenance).systems.all()) == ["api", "db"]
    assert changes(maintenance.pk)[-1].delta == {"systemIds": ["api", "db"]}
    page = operator_client.get(change_url(maintenance.pk)).content.decode()
    assert "Half way there" in page
    assert "Scheduled maintenance is in progress." in page
    assert "Open in the change log" in page


def test_an_unchanged_submission_writes_nothing(
    operator_client: Client, systems: list[str]
) -> None:
    maintenance = make_maintenance()
    data = form_data(operator_client, change_url(maintenance.pk), FORM_ID)

    assert_saved(operator_client.post(change_url(maintenance.pk), data))

    assert len(changes(maintenance.pk)) == 1
    assert reload(maintenance).updated_at == maintenance.updated_at


def act(client: Client, action: str, *ids: str, message: str = "") -> Any:
    data = {"action": action, "_selected_action": list(ids), "message": message}
    return client.post(CHANGELIST_URL, data, follow=True)


def test_the_actions_move_the_selected_maintenances(
    operator_client: Client, systems: list[str]
) -> None:
    first, second = make_maintenance(title="First"), make_maintenance(title="Second")

    started = act(operator_client, "start_selected", first.pk, second.pk, message="Go")
    completed = act(operator_client, "complete_selected", first.pk)
    cancelled = act(operator_client, "cancel_selected", second.pk)

    assert messages_of(started) == ["Start: 2 maintenance(s)."]
    assert messages_of(completed) == ["Complete: 1 maintenance(s)."]
    assert messages_of(cancelled) == ["Cancel: 1 maintenance(s)."]
    assert (reload(first).status, reload(second).status) == ("completed", "cancelled")
    assert reload(first).updates.first().message == "Go"


def test_an_action_the_rules_forbid_is_reported_and_changes_nothing(
    operator_client: Client, systems: list[str]
) -> None:
    scheduled = make_maintenance(title="Scheduled")
    in_progress = running(title="Running")

    response = act(operator_client, "complete_selected", scheduled.pk, in_progress.pk)

    assert messages_of(response) == [
        "Complete: 1 maintenance(s).",
        f"Maintenance {scheduled.pk} is scheduled; it can become completed only from in_progress.",
    ]
    assert reload(scheduled).status == "scheduled"


def test_without_the_manage_permission_the_admin_is_read_only(
    clerk_client: Client, systems: list[str]
) -> None:
    maintenance = make_maintenance()

    assert clerk_client.get(ADD_URL).status_code == 403
    page = clerk_client.get(change_url(maintenance.pk))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert b"start_selected" not in clerk_client.get(CHANGELIST_URL).content
    act(clerk_client, "start_selected", maintenance.pk)
    assert reload(maintenance).status == "scheduled"


def test_the_changelist_filters_searches_and_costs_the_same_for_more_rows(
    operator_client: Client, systems: list[str]
) -> None:
    running(["db"], title="Database upgrade")
    make_maintenance(["api"], title="API rollout")

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert operator_client.get(CHANGELIST_URL).status_code == 200
        return len(captured.captured_queries)

    few = count_queries()
    for n in range(5):
        make_maintenance(["db", "web"], title=f"Extra {n}")

    assert count_queries() == few
    in_progress = operator_client.get(f"{CHANGELIST_URL}?status__exact=in_progress")
    assert b"Database upgrade" in in_progress.content
    assert b"API rollout" not in in_progress.content
    found = operator_client.get(f"{CHANGELIST_URL}?q=rollout")
    assert b"API rollout" in found.content and b"Database upgrade" not in found.content
