"""The incident's visibility in the admin: set on add, changed on edit, listed and filtered."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from incidents import services
from incidents.models import Incident
from tests.admin.helpers import assert_saved, form_data, form_errors

pytestmark = pytest.mark.django_db

CHANGELIST_URL = "/admin/incidents/incident/"
ADD_URL = "/admin/incidents/incident/add/"
FORM_ID = "incident_form"


def test_the_add_form_offers_the_visibility_public_first(
    admin_client: Client, systems: list[str]
) -> None:
    assert form_data(admin_client, ADD_URL, FORM_ID)["visibility"] == "public"


def test_an_incident_added_as_internal_is_stored_internal(
    admin_client: Client, systems: list[str]
) -> None:
    data = form_data(admin_client, ADD_URL, FORM_ID)
    data.update(title="Quiet fix", severity="minor", system_ids="db", visibility="internal")

    assert_saved(admin_client.post(ADD_URL, data))

    assert Incident.objects.get(title="Quiet fix").visibility == "internal"


@pytest.fixture
def incident(admin_user: Any, systems: list[str]) -> Incident:
    return services.create_incident(title="Outage", system_ids=["db"], actor=admin_user)


def post_visibility(client: Client, incident: Incident, visibility: str) -> Any:
    """The incident's change form as shown, submitted with ``visibility``."""
    url = f"/admin/incidents/incident/{incident.pk}/change/"
    data = form_data(client, url, FORM_ID)
    data["visibility"] = visibility
    return client.post(url, data)


def test_the_visibility_is_changed_on_the_change_page(
    admin_client: Client, incident: Incident
) -> None:
    assert_saved(post_visibility(admin_client, incident, "logged_in"))

    assert Incident.objects.get(pk=incident.pk).visibility == "logged_in"


def test_an_unknown_visibility_is_the_services_form_error(
    admin_client: Client, incident: Incident
) -> None:
    response = post_visibility(admin_client, incident, "everyone")

    assert "visibility" in form_errors(response)[""]
    assert Incident.objects.get(pk=incident.pk).visibility == "public"


def test_the_list_shows_and_filters_by_visibility(
    admin_client: Client, admin_user: Any, systems: list[str]
) -> None:
    services.create_incident(title="Seen by all", system_ids=["db"], actor=admin_user)
    services.create_incident(
        title="Staff only", system_ids=["db"], visibility="internal", actor=admin_user
    )

    page = admin_client.get(CHANGELIST_URL, {"visibility__exact": "internal"}).content.decode()

    assert "Staff only" in page
    assert "Seen by all" not in page
    assert "column-visibility" in page
