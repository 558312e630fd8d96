"""The incidents admin: writes go through the services (same change log, events and signals),
the services' refusals re-render the form and write nothing, manage permission, query counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from checkstack.entities.models import Change
from checkstack.errors import Conflict
from incidents import services
from incidents.models import Incident, IncidentLink, IncidentUpdate
from tests.admin.helpers import (
    assert_saved,
    change_log,
    first_extra_row,
    form_data,
    form_errors,
    without_incident,
)

pytestmark = pytest.mark.django_db

CHANGELIST_URL = "/admin/incidents/incident/"
ADD_URL = "/admin/incidents/incident/add/"
FORM_ID = "incident_form"

Capture = Callable[..., AbstractContextManager[Any]]


def change_url(incident_id: str) -> str:
    return f"/admin/incidents/incident/{incident_id}/change/"


def delete_url(incident_id: str) -> str:
    return f"/admin/incidents/incident/{incident_id}/delete/"


def row_of(data: dict[str, Any], prefix: str, object_id: str) -> str:
    """The prefix of the inline row showing ``object_id`` (e.g. "updates-1")."""
    for index in range(int(data[f"{prefix}-TOTAL_FORMS"])):
        if data.get(f"{prefix}-{index}-id") == object_id:
            return f"{prefix}-{index}"
    raise AssertionError(f"no {prefix} row for {object_id}")


def service_message(call: Callable[[], Any], field: str) -> list[str]:
    """The messages the service itself answers ``call`` with, for ``field``."""
    with pytest.raises(ValidationError) as refused:
        call()
    return refused.value.message_dict[field]


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def twins(systems: list[str], admin_user: Any) -> Iterator[tuple[Incident, Incident]]:
    """Two incidents created alike through the service: one edited in the admin, one directly."""
    fields = {"severity": "major", "system_ids": ["api", "db"], "initial_message": "Looking."}
    first = services.create_incident(title="Admin twin", actor=admin_user, **fields)
    second = services.create_incident(title="Service twin", actor=admin_user, **fields)
    yield first, second


def post_change(
    client: Client, incident_id: str, edit: Callable[[dict[str, Any]], None], capture: Capture
) -> Any:
    data = form_data(client, change_url(incident_id), FORM_ID)
    edit(data)
    with capture(execute=True):
        return client.post(change_url(incident_id), data)


# -- create and edit -------------------------------------------------------------------------------


def test_admin_create_logs_the_same_change_events_and_signal_as_the_service(
    admin_client: Client,
    admin_user: Any,
    systems: list[str],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    data = form_data(admin_client, ADD_URL, FORM_ID)
    data.update(
        title="Database down",
        severity="critical",
        system_ids="db, api",
        initial_message="Looking into it.",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert_saved(admin_client.post(ADD_URL, data))
    created = Incident.objects.get(title="Database down")
    with django_capture_on_commit_callbacks(execute=True):
        twin = services.create_incident(
            title="Twin",
            severity="critical",
            system_ids=["db", "api"],
            initial_message="Looking into it.",
            actor=admin_user,
        )

    log = change_log("incident", created.pk)
    assert log == change_log("incident", twin.pk)
    assert [(row["seq"], [event for event, _ in row["events"]]) for row in log] == [
        (1, ["incident.created"])
    ]
    assert log[0]["next"] == {
        "status": "investigating",
        "severity": "critical",
        "systemIds": ["api", "db"],
    }
    assert log[0]["actor"]["id"] == str(admin_user.pk)
    first_update = IncidentUpdate.objects.get(incident=created)
    assert (first_update.message, first_update.status_change, first_update.created_by) == (
        "Looking into it.",
        "investigating",
        admin_user,
    )
    assert [signal["incident_id"] for signal in sent] == [created.pk, twin.pk]
    assert without_incident(sent)[0] == without_incident(sent)[1]
    assert sent[0]["action"] == "created"


@pytest.mark.parametrize(
    ("form_values", "service_values", "logged"),
    [
        ({"title": "Renamed"}, {"title": "Renamed"}, []),
        ({"severity": "critical"}, {"severity": "critical"}, [["severity"]]),
        ({"system_ids": "web, db"}, {"system_ids": ["web", "db"]}, [["systemIds"]]),
    ],
    ids=["title", "severity", "systems"],
)
def test_admin_edit_logs_the_same_change_events_and_signal_as_the_service(
    admin_client: Client,
    admin_user: Any,
    twins: tuple[Incident, Incident],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
    form_values: dict[str, str],
    service_values: dict[str, Any],
    logged: list[list[str]],
) -> None:
    edited, twin = twins

    response = post_change(
        admin_client,
        edited.pk,
        lambda data: data.update(form_values),
        django_capture_on_commit_callbacks,
    )
    assert_saved(response)
    with django_capture_on_commit_callbacks(execute=True):
        services.update_incident(twin.pk, actor=admin_user, **service_values)

    log = change_log("incident", edited.pk)
    assert log == change_log("incident", twin.pk)
    assert [row["changed_fields"] for row in log[1:]] == logged
    assert [event for row in log[1:] for event, _ in row["events"]] == ["incident.updated"] * len(
        logged
    )
    assert [signal["incident_id"] for signal in sent] == [edited.pk, twin.pk]
    assert without_incident(sent)[0] == without_incident(sent)[1]
    assert sent[0]["action"] == "updated"
    incident = Incident.objects.get(pk=edited.pk)
    if "title" in service_values:
        assert incident.title == "Renamed"


def test_admin_submission_without_changes_writes_nothing(
    admin_client: Client,
    twins: tuple[Incident, Incident],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    incident = twins[0]
    before = Incident.objects.get(pk=incident.pk).updated_at

    assert_saved(
        post_change(
            admin_client, incident.pk, lambda data: None, django_capture_on_commit_callbacks
        )
    )

    assert Incident.objects.get(pk=incident.pk).updated_at == before
    assert len(change_log("incident", incident.pk)) == 1
    assert sent == []


def test_status_is_read_only_in_the_admin_form(
    admin_client: Client,
    twins: tuple[Incident, Incident],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    incident = twins[0]

    response = post_change(
        admin_client,
        incident.pk,
        lambda data: data.update(status="resolved", title="Still open"),
        django_capture_on_commit_callbacks,
    )

    assert_saved(response)
    row = Incident.objects.get(pk=incident.pk)
    assert (row.title, row.status) == ("Still open", "investigating")
    assert len(change_log("incident", incident.pk)) == 1


# -- timeline and links ----------------------------------------------------------------------------


def test_admin_timeline_add_edit_delete_log_like_the_services(
    admin_client: Client,
    admin_user: Any,
    twins: tuple[Incident, Incident],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    edited, twin = twins
    capture = django_capture_on_commit_callbacks

    def add(data: dict[str, Any]) -> None:
        row = first_extra_row(data, "updates")
        data.update({f"{row}-message": "Fix deployed.", f"{row}-status_change": "monitoring"})

    assert_saved(post_change(admin_client, edited.pk, add, capture))
    with capture(execute=True):
        twin_update = services.add_update(
            twin.pk, message="Fix deployed.", status_change="monitoring", actor=admin_user
        )
    update = IncidentUpdate.objects.get(incident=edited, message="Fix deployed.")
    published = update.created_at
    assert update.created_by == admin_user
    assert Incident.objects.get(pk=edited.pk).status == "monitoring"

    def edit(data: dict[str, Any]) -> None:
        data[f"{row_of(data, 'updates', update.pk)}-status_change"] = "identified"

    assert_saved(post_change(admin_client, edited.pk, edit, capture))
    with capture(execute=True):
        services.edit_update(twin.pk, twin_update.pk, status_change="identified", actor=admin_user)
    update.refresh_from_db()
    assert (update.status_change, update.created_at) == ("identified", published)
    assert [entry["status_change"] for entry in update.edit_history] == ["monitoring"]

    def delete(data: dict[str, Any]) -> None:
        data[f"{row_of(data, 'updates', update.pk)}-DELETE"] = "on"

    assert_saved(post_change(admin_client, edited.pk, delete, capture))
    with capture(execute=True):
        services.delete_update(twin.pk, twin_update.pk, actor=admin_user)

    assert not IncidentUpdate.objects.filter(pk=update.pk).exists()
    untouched = IncidentUpdate.objects.get(incident=edited)  # the initial message's row
    assert (untouched.edited_at, untouched.edit_history) == (None, [])
    log = change_log("incident", edited.pk)
    assert log == change_log("incident", twin.pk)
    assert [(row["seq"], row["delta"]) for row in log[1:]] == [
        (2, {"status": "monitoring"}),
        (3, {"status": "identified"}),
        (4, {"status": "investigating"}),
    ]
    assert [event for row in log[1:] for event, _ in row["events"]] == ["incident.updated"] * 3
    admin_signals = [s for s in sent if s["incident_id"] == edited.pk]
    twin_signals = [s for s in sent if s["incident_id"] == twin.pk]
    assert without_incident(admin_signals) == without_incident(twin_signals)
    assert len(admin_signals) == 3


def test_admin_backdating_an_update_rederives_the_status_like_the_service(
    admin_client: Client,
    admin_user: Any,
    twins: tuple[Incident, Incident],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    edited, twin = twins
    update = services.add_update(edited.pk, message="Watching.", status_change="monitoring")
    twin_update = services.add_update(twin.pk, message="Watching.", status_change="monitoring")
    backdated = dt.datetime(2020, 1, 1, 10, 0, tzinfo=dt.UTC)

    def backdate(data: dict[str, Any]) -> None:
        row = row_of(data, "updates", update.pk)
        data.update({f"{row}-created_at_0": "2020-01-01", f"{row}-created_at_1": "10:00:00"})

    assert_saved(post_change(admin_client, edited.pk, backdate, django_capture_on_commit_callbacks))
    services.edit_update(twin.pk, twin_update.pk, created_at=backdated, actor=admin_user)

    update.refresh_from_db()
    assert (update.created_at, update.message) == (backdated, "Watching.")
    assert Incident.objects.get(pk=edited.pk).status == "investigating"
    log = change_log("incident", edited.pk)
    assert log == change_log("incident", twin.pk)
    assert log[-1]["delta"] == {"status": "investigating"}


def test_a_new_update_cannot_be_backdated_in_the_same_step(
    admin_client: Client,
    twins: tuple[Incident, Incident],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    incident = twins[0]
    rows: dict[str, str] = {}

    def add(data: dict[str, Any]) -> None:
        rows["update"] = row = first_extra_row(data, "updates")
        data.update(
            {
                f"{row}-message": "Earlier note.",
                f"{row}-created_at_0": "2020-01-01",
                f"{row}-created_at_1": "10:00:00",
            }
        )

    response = post_change(admin_client, incident.pk, add, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert list(form_errors(response)) == [rows["update"]]
    assert list(form_errors(response)[rows["update"]]) == ["created_at"]
    assert IncidentUpdate.objects.filter(incident=incident).count() == 1


def test_admin_adds_a_link_without_an_entity_change_but_with_a_signal(
    admin_client: Client,
    twins: tuple[Incident, Incident],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    incident = twins[0]

    def add(data: dict[str, Any]) -> None:
        row = first_extra_row(data, "links")
        data.update(
            {
                f"{row}-label": "Runbook",
                f"{row}-url": "https://runbooks.example.com/db",
                f"{row}-visibility": "internal",
            }
        )

    assert_saved(post_change(admin_client, incident.pk, add, django_capture_on_commit_callbacks))

    link = IncidentLink.objects.get(incident=incident)
    assert (link.label, link.url, link.visibility) == (
        "Runbook",
        "https://runbooks.example.com/db",
        "internal",
    )
    assert len(change_log("incident", incident.pk)) == 1
    assert [(s["incident_id"], s["action"]) for s in sent] == [(incident.pk, "updated")]


def test_admin_edits_and_removes_links_through_the_services(
    admin_client: Client,
    twins: tuple[Incident, Incident],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    incident = twins[0]
    kept = services.add_link(incident.pk, url="https://a.example.com/", label="A")
    dropped = services.add_link(incident.pk, url="https://b.example.com/", label="B")

    def edit(data: dict[str, Any]) -> None:
        data[f"{row_of(data, 'links', kept.pk)}-url"] = "https://c.example.com/"
        data[f"{row_of(data, 'links', dropped.pk)}-DELETE"] = "on"

    assert_saved(post_change(admin_client, incident.pk, edit, django_capture_on_commit_callbacks))

    assert list(IncidentLink.objects.filter(incident=incident).values_list("label", "url")) == [
        ("A", "https://c.example.com/")
    ]


# -- actions and deletion --------------------------------------------------------------------------


def test_resolve_action_logs_like_the_service_and_summarizes_the_results(
    admin_client: Client,
    admin_user: Any,
    twins: tuple[Incident, Incident],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    resolved, twin = twins
    already = services.create_incident(title="Old", system_ids=["web"])
    services.resolve_incident(already.pk)
    data = {
        "action": "resolve_selected",
        "_selected_action": [resolved.pk, already.pk],
        "message": "Back to normal.",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(CHANGELIST_URL, data)
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve_incident(twin.pk, message="Back to normal.", actor=admin_user)

    assert response.status_code == 302
    assert messages_of(response) == ["Resolved 2 incident(s): 1 resolved, 1 unchanged."]
    log = change_log("incident", resolved.pk)
    assert log == change_log("incident", twin.pk)
    assert [event for event, _ in log[-1]["events"]] == ["incident.resolved"]
    assert len(change_log("incident", already.pk)) == 2
    last = IncidentUpdate.objects.filter(incident=resolved).order_by("created_at").last()
    assert last is not None
    assert (last.message, last.status_change) == ("Back to normal.", "resolved")
    assert [(s["incident_id"], s["action"]) for s in sent] == [
        (resolved.pk, "resolved"),
        (twin.pk, "resolved"),
    ]


def test_delete_action_asks_first_then_deletes_through_bulk_delete(
    admin_client: Client,
    admin_user: Any,
    twins: tuple[Incident, Incident],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    deleted, twin = twins
    data = {"action": "delete_selected", "_selected_action": [deleted.pk]}

    confirmation = admin_client.post(CHANGELIST_URL, data)
    assert confirmation.status_code == 200
    assert Incident.objects.filter(pk=deleted.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(CHANGELIST_URL, {**data, "post": "yes"})
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_incident(twin.pk, actor=admin_user)

    assert response.status_code == 302
    assert messages_of(response) == ["Deleted 1 incident(s): 1 deleted."]
    assert not Incident.objects.filter(pk=deleted.pk).exists()
    log = change_log("incident", deleted.pk)
    assert log == change_log("incident", twin.pk)
    assert (log[-1]["seq"], log[-1]["next"], log[-1]["events"]) == (2, None, [])
    assert [(s["incident_id"], s["action"]) for s in sent] == [
        (deleted.pk, "deleted"),
        (twin.pk, "deleted"),
    ]


def test_delete_view_deletes_through_the_service(
    admin_client: Client,
    admin_user: Any,
    twins: tuple[Incident, Incident],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    deleted, twin = twins

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(delete_url(deleted.pk), {"post": "yes"})
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_incident(twin.pk, actor=admin_user)

    assert response.status_code == 302
    assert not Incident.objects.filter(pk=deleted.pk).exists()
    log = change_log("incident", deleted.pk)
    assert log == change_log("incident", twin.pk)
    assert log[-1]["next"] is None
    assert [(s["incident_id"], s["action"]) for s in sent] == [
        (deleted.pk, "deleted"),
        (twin.pk, "deleted"),
    ]


# -- refused input ---------------------------------------------------------------------------------


def nothing_new(incident_count: int, change_count: int, sent: list[dict[str, Any]]) -> bool:
    return (
        Incident.objects.count() == incident_count
        and Change.objects.filter(kind="incident").count() == change_count
        and sent == []
    )


@pytest.mark.parametrize(
    ("form_values", "field", "service_call"),
    [
        (
            {"title": "   "},
            "title",
            lambda: services.create_incident(title="   ", system_ids=["api"]),
        ),
        (
            {"system_ids": "api, nope"},
            "system_ids",
            lambda: services.create_incident(title="T", system_ids=["api", "nope"]),
        ),
        (
            {"system_ids": ""},
            "system_ids",
            lambda: services.create_incident(title="T", system_ids=[]),
        ),
    ],
    ids=["blank-title", "unknown-system", "no-system"],
)
def test_admin_create_refused_by_the_service_shows_its_message_and_writes_nothing(
    admin_client: Client,
    systems: list[str],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
    form_values: dict[str, str],
    field: str,
    service_call: Callable[[], Any],
) -> None:
    expected = service_message(service_call, field)
    data = form_data(admin_client, ADD_URL, FORM_ID)
    data.update({"title": "Outage", "system_ids": "api", **form_values})
    row = first_extra_row(data, "links")
    data[f"{row}-url"] = "https://status.example.com/"  # valid, and rolled back with the rest

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(ADD_URL, data)

    assert response.status_code == 200
    assert form_errors(response) == {"": {field: expected}}
    assert response.context["adminform"].form["system_ids"].value() == data["system_ids"]
    assert nothing_new(0, 0, sent)
    assert not IncidentLink.objects.exists()


def test_admin_create_with_a_refused_link_creates_no_incident(
    admin_client: Client,
    systems: list[str],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    data = form_data(admin_client, ADD_URL, FORM_ID)
    data.update(title="Outage", system_ids="api")
    row = first_extra_row(data, "links")
    data[f"{row}-url"] = "ftp://files.example.com/"

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(ADD_URL, data)

    assert response.status_code == 200
    assert form_errors(response) == {row: {"url": ["Enter a valid http or https URL."]}}
    assert nothing_new(0, 0, sent)


def test_refused_link_url_rolls_back_the_whole_submission(
    admin_client: Client,
    twins: tuple[Incident, Incident],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    incident = twins[0]
    expected = service_message(
        lambda: services.add_link(incident.pk, url="ftp://x.example/"), "url"
    )
    changes_before = Change.objects.filter(kind="incident").count()
    rows: dict[str, str] = {}

    def edit(data: dict[str, Any]) -> None:
        rows["link"] = first_extra_row(data, "links")
        rows["update"] = first_extra_row(data, "updates")
        data.update(
            {
                "severity": "critical",
                f"{rows['update']}-message": "Fixing.",
                f"{rows['update']}-status_change": "fixing",
                f"{rows['link']}-url": "ftp://x.example/",
            }
        )

    response = post_change(admin_client, incident.pk, edit, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert form_errors(response) == {rows["link"]: {"url": expected}}
    row = Incident.objects.get(pk=incident.pk)
    assert (row.severity, row.status) == ("major", "investigating")
    assert IncidentUpdate.objects.filter(incident=incident).count() == 1
    assert not IncidentLink.objects.filter(incident=incident).exists()
    assert nothing_new(2, changes_before, sent)


def test_duplicate_link_url_is_refused_on_its_row(
    admin_client: Client,
    twins: tuple[Incident, Incident],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    incident = twins[0]
    url = "https://status.example.com/"
    services.add_link(incident.pk, url=url, label="Status")
    with pytest.raises(Conflict) as conflict:
        services.add_link(incident.pk, url=url)
    changes_before = Change.objects.filter(kind="incident").count()
    rows: dict[str, str] = {}

    def edit(data: dict[str, Any]) -> None:
        rows["link"] = first_extra_row(data, "links")
        data.update({"title": "Renamed", f"{rows['link']}-url": url})

    response = post_change(admin_client, incident.pk, edit, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert form_errors(response) == {rows["link"]: {"url": [str(conflict.value)]}}
    assert Incident.objects.get(pk=incident.pk).title == "Admin twin"
    assert IncidentLink.objects.filter(incident=incident).count() == 1
    assert nothing_new(2, changes_before, sent)


def test_removing_a_link_label_is_refused_with_the_service_message(
    admin_client: Client,
    twins: tuple[Incident, Incident],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    incident = twins[0]
    link = services.add_link(incident.pk, url="https://a.example.com/", label="A")
    expected = service_message(
        lambda: services.update_link(incident.pk, link.pk, label=None), "label"
    )
    rows: dict[str, str] = {}

    def edit(data: dict[str, Any]) -> None:
        rows["link"] = row_of(data, "links", link.pk)
        data[f"{rows['link']}-label"] = ""

    response = post_change(admin_client, incident.pk, edit, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert form_errors(response) == {rows["link"]: {"label": expected}}
    assert IncidentLink.objects.get(pk=link.pk).label == "A"


def test_blank_update_message_is_refused_on_its_row(
    admin_client: Client,
    twins: tuple[Incident, Incident],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    incident = twins[0]
    expected = service_message(
        lambda: services.add_update(incident.pk, message=" ", status_change="fixing"), "message"
    )
    rows: dict[str, str] = {}

    def edit(data: dict[str, Any]) -> None:
        rows["update"] = first_extra_row(data, "updates")
        data[f"{rows['update']}-status_change"] = "fixing"

    response = post_change(admin_client, incident.pk, edit, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert form_errors(response) == {rows["update"]: {"message": expected}}
    assert Incident.objects.get(pk=incident.pk).status == "investigating"


# -- permissions ---------------------------------------------------------------------------------


def test_staff_without_manage_permission_gets_403_on_add_and_change(
    clerk_client: Client,
    twins: tuple[Incident, Incident],
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    incident = twins[0]
    data = {"title": "Renamed", "severity": "critical", "system_ids": "api"}

    with django_capture_on_commit_callbacks(execute=True):
        add = clerk_client.post(
            ADD_URL, {**data, "links-TOTAL_FORMS": "0", "links-INITIAL_FORMS": "0"}
        )
        change = clerk_client.post(change_url(incident.pk), data)
        resolve = clerk_client.post(
            CHANGELIST_URL, {"action": "resolve_selected", "_selected_action": [incident.pk]}
        )

    assert (add.status_code, change.status_code) == (403, 403)
    assert clerk_client.get(ADD_URL).status_code == 403
    view = clerk_client.get(change_url(incident.pk))
    assert view.status_code == 200
    assert "API (api), DB (db)" in view.content.decode()  # read-only, with catalog names
    assert resolve.status_code == 200  # no action is offered: the list is shown again
    assert "resolve_selected" not in resolve.content.decode()
    row = Incident.objects.get(pk=incident.pk)
    assert (row.title, row.severity, row.status) == ("Admin twin", "major", "investigating")
    assert nothing_new(2, 2, sent)


def test_staff_with_manage_permission_writes_as_themselves(
    manager_client: Client, systems: list[str], django_user_model: Any
) -> None:
    data = form_data(manager_client, ADD_URL, FORM_ID)
    data.update(title="Outage", system_ids="web")

    assert_saved(manager_client.post(ADD_URL, data))

    incident = Incident.objects.get(title="Outage")
    manager = django_user_model.objects.get(username="manager")
    assert change_log("incident", incident.pk)[0]["actor"] == {
        "type": "user",
        "id": str(manager.pk),
        "name": "manager",
    }


# -- changelist ------------------------------------------------------------------------------------


def changelist_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST_URL)
    assert response.status_code == 200
    return len(queries)


def test_changelist_query_count_does_not_grow_with_the_incidents(
    admin_client: Client, systems: list[str], django_assert_num_queries: Capture
) -> None:
    def create(count: int, start: int) -> None:
        for index in range(start, start + count):
            services.create_incident(title=f"Incident {index}", system_ids=["api", "db"])

    create(5, 0)
    changelist_queries(admin_client)  # warms per-process caches
    five = changelist_queries(admin_client)
    create(45, 5)

    with django_assert_num_queries(five):
        response = admin_client.get(CHANGELIST_URL)

    assert response.context["cl"].result_count == 50
    assert response.content.decode().count("API (api), DB (db)") == 50


def test_changelist_filters_by_system_and_by_active_or_resolved(
    admin_client: Client, systems: list[str]
) -> None:
    services.create_incident(title="Web slow", system_ids=["web"])
    api = services.create_incident(title="API down", system_ids=["api"])
    services.resolve_incident(api.pk)

    def titles(query: str) -> list[str]:
        response = admin_client.get(f"{CHANGELIST_URL}?{query}")
        assert response.status_code == 200
        return sorted(incident.title for incident in response.context["cl"].result_list)

    assert titles("system=web") == ["Web slow"]
    assert titles("state=active") == ["Web slow"]
    assert titles("state=resolved") == ["API down"]
    assert titles("q=slow") == ["Web slow"]
    page = admin_client.get(CHANGELIST_URL).content.decode()
    assert "WEB (web)" in page and "?system=api" in page


def test_change_page_shows_the_change_history(
    admin_client: Client, admin_user: Any, twins: tuple[Incident, Incident]
) -> None:
    incident = twins[0]
    services.update_incident(incident.pk, severity="critical", actor=admin_user)

    page = admin_client.get(change_url(incident.pk)).content.decode()

    assert "severity: major → critical" in page
    assert "incident.created" in page and "incident.updated" in page
    assert f"/admin/entities/change/?kind=incident&amp;entity_id={incident.pk}" in page
    assert (
        admin_client.get(
            f"/admin/entities/change/?kind=incident&entity_id={incident.pk}"
        ).status_code
        == 200
    )
