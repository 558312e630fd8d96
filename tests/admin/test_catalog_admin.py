"""The catalog admin: systems and groups are written through the services (change log, events),
the services' refusals show on the form, writes need ``catalog.manage_catalog``."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog import services as catalog
from catalog.models import Group, System
from checkstack.entities.models import Change
from checkstack.errors import Conflict
from checkstack.validation import DEPTH_MESSAGE
from tests.admin.helpers import assert_saved, change_log, form_data, form_errors

pytestmark = pytest.mark.django_db

SYSTEMS_URL = "/admin/catalog/system/"
GROUPS_URL = "/admin/catalog/group/"

Capture = Callable[..., AbstractContextManager[Any]]


def events_of(log: list[dict[str, Any]]) -> list[tuple[int, list[str]]]:
    return [(row["seq"], [event for event, _ in row["events"]]) for row in log]


def without_ids(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log with the system/group ids dropped from event payloads (to compare two entities)."""
    return [
        {
            **row,
            "events": [
                (event, {k: v for k, v in payload.items() if k not in ("systemId", "groupId")})
                for event, payload in row["events"]
            ],
        }
        for row in log
    ]


def refused_message(call: Callable[[], Any], field: str) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        call()
    return refused.value.message_dict[field]


def test_admin_create_edit_delete_system_logs_like_the_services(
    admin_client: Client, admin_user: Any
) -> None:
    data = form_data(admin_client, f"{SYSTEMS_URL}add/", "system_form")
    data.update(id="api", name="API", description="The API.", metadata='{"tier": 1}')
    assert_saved(admin_client.post(f"{SYSTEMS_URL}add/", data))

    data = form_data(admin_client, f"{SYSTEMS_URL}api/change/", "system_form")
    assert "id" not in data  # the id is chosen on create only
    data.update(name="Public API")
    assert_saved(admin_client.post(f"{SYSTEMS_URL}api/change/", data))

    assert_saved(admin_client.post(f"{SYSTEMS_URL}api/delete/", {"post": "yes"}))

    catalog.create_system(
        id="twin", name="API", description="The API.", metadata={"tier": 1}, actor=admin_user
    )
    catalog.update_system("twin", name="Public API", actor=admin_user)
    catalog.delete_system("twin", actor=admin_user)
    log = change_log("catalog-system", "api")
    assert without_ids(log) == without_ids(change_log("catalog-system", "twin"))
    assert events_of(log) == [
        (1, ["catalog.created"]),
        (2, ["catalog.updated"]),
        (3, ["catalog.deleted"]),
    ]
    assert log[0]["next"] == {"name": "API", "description": "The API.", "metadata": {"tier": 1}}
    assert log[1]["changed_fields"] == ["name"]
    assert log[2]["next"] is None
    assert log[0]["actor"]["id"] == str(admin_user.pk)
    assert not System.objects.filter(pk="api").exists()


def test_admin_system_without_id_gets_a_generated_one(admin_client: Client) -> None:
    data = form_data(admin_client, f"{SYSTEMS_URL}add/", "system_form")
    data.update(name="Billing")

    assert_saved(admin_client.post(f"{SYSTEMS_URL}add/", data))

    system = System.objects.get(name="Billing")
    assert len(system.pk) == 36
    assert events_of(change_log("catalog-system", system.pk)) == [(1, ["catalog.created"])]


def test_delete_action_on_systems_tombstones_each_through_the_service(
    admin_client: Client,
) -> None:
    catalog.create_system(id="api", name="API")
    catalog.create_system(id="web", name="Web")
    data = {"action": "delete_selected", "_selected_action": ["api", "web"], "post": "yes"}

    response = admin_client.post(SYSTEMS_URL, data)

    assert response.status_code == 302
    assert not System.objects.exists()
    for system_id in ("api", "web"):
        assert events_of(change_log("catalog-system", system_id))[-1] == (2, ["catalog.deleted"])


@pytest.mark.parametrize(
    ("values", "field", "service_call"),
    [
        (
            {"id": "Not A Slug", "name": "API"},
            "id",
            lambda: catalog.create_system(id="Not A Slug", name="API"),
        ),
        ({"id": "api", "name": "  "}, "name", lambda: catalog.create_system(id="api", name="  ")),
        (
            {"id": "api", "name": "API", "metadata": "[1, 2]"},
            "metadata",
            lambda: catalog.create_system(id="api", name="API", metadata=[1, 2]),  # type: ignore[arg-type]
        ),
        (
            {"id": "api", "name": "API", "metadata": '{"a": 1e400}'},
            "metadata",
            lambda: catalog.create_system(id="api", name="API", metadata={"a": float("inf")}),
        ),
        (
            {"id": "api", "name": "API", "metadata": '{"a": "\\ud800"}'},
            "metadata",
            lambda: catalog.create_system(id="api", name="API", metadata={"a": "\ud800"}),
        ),
    ],
    ids=["bad-slug", "blank-name", "metadata-not-an-object", "infinity", "surrogate"],
)
def test_admin_system_input_refused_by_the_service_shows_its_message(
    admin_client: Client, values: dict[str, str], field: str, service_call: Callable[[], Any]
) -> None:
    expected = refused_message(service_call, field)
    data = form_data(admin_client, f"{SYSTEMS_URL}add/", "system_form")
    data.update(values)

    response = admin_client.post(f"{SYSTEMS_URL}add/", data)

    assert response.status_code == 200
    assert form_errors(response) == {"": {field: expected}}
    assert not System.objects.exists()
    assert not Change.objects.exists()


def test_admin_json_nested_too_deeply_for_the_decoder_is_a_form_error(
    admin_client: Client,
) -> None:
    data = form_data(admin_client, f"{SYSTEMS_URL}add/", "system_form")
    data.update(id="api", name="API", metadata="[" * 100_000 + "]" * 100_000)

    response = admin_client.post(f"{SYSTEMS_URL}add/", data)

    assert response.status_code == 200  # was a 500: the decoder's RecursionError escaped
    assert form_errors(response) == {"": {"metadata": [DEPTH_MESSAGE]}}
    assert not System.objects.exists()


def test_admin_json_with_an_integer_too_long_to_convert_is_a_form_error(
    admin_client: Client,
) -> None:
    data = form_data(admin_client, f"{SYSTEMS_URL}add/", "system_form")
    data.update(id="api", name="API", metadata='{"a": ' + "1" * 5000 + "}")

    response = admin_client.post(f"{SYSTEMS_URL}add/", data)

    assert response.status_code == 200  # was a 500: a ValueError, not a JSONDecodeError
    (message,) = form_errors(response)[""]["metadata"]
    assert message.startswith("Enter a valid JSON: Exceeds the limit (4300 digits)")
    assert not System.objects.exists()


def test_admin_duplicate_system_id_shows_the_conflict_on_the_id(admin_client: Client) -> None:
    catalog.create_system(id="api", name="API")
    with pytest.raises(Conflict) as conflict:
        catalog.create_system(id="api", name="Other")
    data = form_data(admin_client, f"{SYSTEMS_URL}add/", "system_form")
    data.update(id="api", name="Other")

    response = admin_client.post(f"{SYSTEMS_URL}add/", data)

    assert response.status_code == 200
    assert form_errors(response) == {"": {"id": [str(conflict.value)]}}
    assert System.objects.get(pk="api").name == "API"
    assert Change.objects.filter(kind="catalog-system").count() == 1


def test_admin_group_members_are_written_through_the_group_entity(
    admin_client: Client, admin_user: Any
) -> None:
    for system_id in ("api", "db", "web"):
        catalog.create_system(id=system_id, name=system_id.upper())
    data = form_data(admin_client, f"{GROUPS_URL}add/", "group_form")
    data.update(
        id="core", name="Core", metadata=json.dumps({"owner": "sre"}), system_ids=["web", "api"]
    )
    assert_saved(admin_client.post(f"{GROUPS_URL}add/", data))

    data = form_data(admin_client, f"{GROUPS_URL}core/change/", "group_form")
    assert sorted(data["system_ids"]) == ["api", "web"]
    data["system_ids"] = ["db"]
    assert_saved(admin_client.post(f"{GROUPS_URL}core/change/", data))

    log = change_log("catalog-group", "core")
    assert events_of(log) == [(1, ["catalog.group.created"]), (2, ["catalog.group.updated"])]
    assert log[0]["next"] == {
        "name": "Core",
        "metadata": {"owner": "sre"},
        "systemIds": ["api", "web"],
    }
    assert (log[1]["changed_fields"], log[1]["delta"]) == (["systemIds"], {"systemIds": ["db"]})
    assert log[1]["actor"]["id"] == str(admin_user.pk)
    assert list(Group.objects.get(pk="core").systems.values_list("pk", flat=True)) == ["db"]

    assert_saved(admin_client.post(f"{GROUPS_URL}core/delete/", {"post": "yes"}))
    assert events_of(change_log("catalog-group", "core"))[-1] == (3, ["catalog.group.deleted"])


def test_admin_group_with_an_unknown_system_shows_the_service_message(
    admin_client: Client,
) -> None:
    catalog.create_system(id="api", name="API")
    expected = refused_message(
        lambda: catalog.create_group(name="Core", system_ids=["api", "gone"]), "system_ids"
    )
    data = form_data(admin_client, f"{GROUPS_URL}add/", "group_form")
    data.update(name="Core", system_ids=["api", "gone"])  # e.g. deleted while the form was open

    response = admin_client.post(f"{GROUPS_URL}add/", data)

    assert response.status_code == 200
    assert form_errors(response) == {"": {"system_ids": expected}}
    assert not Group.objects.exists()


def test_staff_without_manage_catalog_gets_403_on_writes(clerk_client: Client) -> None:
    catalog.create_system(id="api", name="API")

    add = clerk_client.post(f"{SYSTEMS_URL}add/", {"id": "web", "name": "Web"})
    change = clerk_client.post(f"{SYSTEMS_URL}api/change/", {"name": "Renamed"})
    delete = clerk_client.post(f"{SYSTEMS_URL}api/delete/", {"post": "yes"})

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert list(System.objects.values_list("pk", "name")) == [("api", "API")]
    assert Change.objects.filter(kind="catalog-system").count() == 1


def test_system_changelist_query_count_does_not_grow_with_the_systems(
    admin_client: Client, django_assert_num_queries: Capture
) -> None:
    def create(start: int, count: int) -> None:
        for index in range(start, start + count):
            catalog.create_system(id=f"s{index}", name=f"System {index}")
            catalog.update_group("core", system_ids=[f"s{i}" for i in range(index + 1)])

    catalog.create_group(id="core", name="Core")
    create(0, 2)
    admin_client.get(SYSTEMS_URL)  # warms per-process caches
    with CaptureQueriesContext(connection) as two:
        admin_client.get(SYSTEMS_URL)
    create(2, 18)

    with django_assert_num_queries(len(two)):
        response = admin_client.get(SYSTEMS_URL)

    assert response.status_code == 200
    assert response.content.decode().count('<td class="field-group_names">Core</td>') == 20
