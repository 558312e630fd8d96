"""Request bodies that a later step could not handle get a 400 and change nothing.

Found by an input sweep: an unpaired surrogate (``"\\ud800"``) was stored and then made every
list that showed it answer 500 (no UTF-8 encoding exists for it), and broke the 400 naming an
unknown field spelled with one; ``1e400`` read as infinity and failed the database's JSON
check; deep nesting overflowed the decoder's and the NUL check's recursion.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from catalog import services as catalog
from catalog.models import System
from checkstack.automation.models import Automation
from checkstack.validation import (
    DEPTH_MESSAGE,
    MAX_JSON_DEPTH,
    NON_FINITE_MESSAGE,
    SURROGATE_MESSAGE,
    storage_problem,
)
from incidents.models import Incident
from tests.api.helpers import make_systems, raw

pytestmark = pytest.mark.django_db

SYSTEMS = "/api/catalog/systems/"


def parse_error(response: Any) -> str:
    """The message of a 400 for a body that could not be parsed."""
    assert response.status_code == 400, response.content[:300]
    (message,) = response.json()["non_field_errors"]
    return str(message)


def nested(depth: int) -> str:
    """A JSON object ``depth`` levels deep: {"a": {"a": ... 1 ...}}."""
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"name": "s1", "metadata": {"a": "\\ud800"}}', SURROGATE_MESSAGE),
        ('{"name": "s1", "metadata": {"\\udfff": 1}}', SURROGATE_MESSAGE),
        ('{"name": "s1\\ud800"}', SURROGATE_MESSAGE),
        ('{"name": "s1", "metadata": {"a": 1e400}}', "number out of range"),
        ('{"name": "s1", "metadata": {"a": -1e999}}', "number out of range"),
        ('{"name": "s1", "metadata": {"a": NaN}}', "NaN is not valid JSON"),
        ('{"name": "s1", "metadata": {"a": Infinity}}', "Infinity is not valid JSON"),
        (f'{{"name": "s1", "metadata": {nested(MAX_JSON_DEPTH + 1)}}}', DEPTH_MESSAGE),
        (f'{{"name": "s1", "metadata": {nested(500)}}}', DEPTH_MESSAGE),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_bodies_no_later_step_could_handle_are_refused_with_400(
    manager_client: APIClient, body: str, says: str
) -> None:
    response = raw(manager_client, "POST", SYSTEMS, body)

    assert says in parse_error(response)
    assert not System.objects.exists()


def test_a_surrogate_in_an_unknown_field_name_is_a_400_on_every_write_endpoint(
    manager_client: APIClient, superuser_client: APIClient
) -> None:
    body = '{"\\ud800": 1}'
    for client, path in (
        (manager_client, "/api/incidents/"),
        (manager_client, SYSTEMS),
        (manager_client, "/api/incidents/bulk-resolve/"),
        (superuser_client, "/api/automation/automations/"),
        (superuser_client, "/api/automation/webhooks/"),
    ):
        response = raw(client, "POST", path, body)
        assert SURROGATE_MESSAGE in parse_error(response), path
    assert not Incident.objects.exists()
    assert not Automation.objects.exists()


def test_a_surrogate_in_an_automation_step_is_refused_and_the_list_still_renders(
    superuser_client: APIClient,
) -> None:
    body = (
        '{"name": "j", "trigger": {"event": "incident.created"}, "steps": [{"id": "n", '
        '"action": "incident.add_update", "config": {"message": "{{ x }}\\ud800"}}]}'
    )

    response = raw(superuser_client, "POST", "/api/automation/automations/", body)

    assert SURROGATE_MESSAGE in parse_error(response)
    assert not Automation.objects.exists()
    assert superuser_client.get("/api/automation/automations/").status_code == 200


def test_metadata_at_the_depth_limit_is_accepted(manager_client: APIClient) -> None:
    body = f'{{"name": "s1", "metadata": {nested(MAX_JSON_DEPTH - 2)}}}'

    response = raw(manager_client, "POST", SYSTEMS, body)

    assert response.status_code == 201, response.content[:300]
    assert System.objects.count() == 1


def test_nul_characters_are_still_reported_per_field(manager_client: APIClient) -> None:
    response = raw(manager_client, "POST", SYSTEMS, '{"name": "s\\u0000"}')

    assert response.status_code == 400
    assert response.json() == {"name": ["Null characters are not allowed."]}


# -- the services (the admin's path: its JSON fields are parsed by Django's forms) -----------


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"a": float("inf")}, NON_FINITE_MESSAGE),
        ({"a": [1.0, float("nan")]}, NON_FINITE_MESSAGE),
        ({"a": "\ud800"}, SURROGATE_MESSAGE),
        ({"b": {"\udc00": 1}}, SURROGATE_MESSAGE),
        ({"x": json.loads(nested(MAX_JSON_DEPTH))}, DEPTH_MESSAGE),
    ],
)
def test_services_refuse_metadata_that_cannot_be_stored(
    metadata: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        catalog.create_system(id="db", name="DB", metadata=metadata)

    assert refused.value.message_dict == {"metadata": [message]}
    assert not System.objects.exists()
    make_systems("db")
    with pytest.raises(ValidationError):
        catalog.update_system("db", metadata=metadata)
    assert System.objects.get(pk="db").metadata == {}


def test_storage_problem_walks_any_depth_without_recursion() -> None:
    deep: Any = 1
    for _ in range(100_000):
        deep = [deep]

    assert storage_problem(deep) == DEPTH_MESSAGE
    assert storage_problem({"a": [1, 2.5, "ok", None, True]}) is None
    assert storage_problem("a\x00b") == "Null characters are not allowed."
    assert storage_problem("a\x00b", allow_nul=True) is None
