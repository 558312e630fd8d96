"""An incident's own visibility: set on create and update, validated, and who may read it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from checkstack.errors import NotFound
from incidents import services
from incidents.models import Incident
from incidents.services import Audience
from tests.incidents.helpers import changes, make_incident

pytestmark = pytest.mark.django_db

VISIBLE = {
    Audience.PUBLIC: {"public"},
    Audience.LOGGED_IN: {"public", "logged_in"},
    Audience.MANAGER: {"public", "logged_in", "internal"},
}


def test_an_incident_is_public_unless_told_otherwise(systems: list[str]) -> None:
    assert make_incident().visibility == "public"


def test_create_stores_the_given_visibility(systems: list[str]) -> None:
    incident = make_incident(visibility="internal")

    assert Incident.objects.get(pk=incident.pk).visibility == "internal"


def test_create_refuses_an_unknown_visibility_and_writes_nothing(systems: list[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        make_incident(visibility="everyone")

    assert "visibility" in refused.value.message_dict
    assert not Incident.objects.exists()


def test_update_changes_the_visibility_without_an_entity_change(
    systems: list[str], sent: list[dict], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = make_incident()
        services.update_incident(incident.pk, visibility="logged_in")

    assert Incident.objects.get(pk=incident.pk).visibility == "logged_in"
    # Not a reactive field (the state stays {status, severity, systemIds}), but a write.
    assert len(changes(incident.pk)) == 1
    assert [signal["action"] for signal in sent] == ["created", "updated"]


def test_update_refuses_an_unknown_visibility(systems: list[str]) -> None:
    incident = make_incident()

    with pytest.raises(ValidationError) as refused:
        services.update_incident(incident.pk, visibility=None)

    assert "visibility" in refused.value.message_dict
    assert Incident.objects.get(pk=incident.pk).visibility == "public"


@pytest.mark.parametrize("audience", list(Audience))
def test_audiences_see_exactly_their_visibilities(systems: list[str], audience: Audience) -> None:
    made = {v: make_incident(title=v, visibility=v) for v in ("public", "logged_in", "internal")}

    listed = services.list_incidents(visibilities=audience.visibilities)

    assert {i.title for i in listed} == VISIBLE[audience]
    for visibility, incident in made.items():
        if visibility in VISIBLE[audience]:
            assert services.get_incident(incident.pk, audience=audience).pk == incident.pk
        else:
            with pytest.raises(NotFound):
                services.get_incident(incident.pk, audience=audience)


def test_the_list_without_visibilities_has_every_incident(systems: list[str]) -> None:
    for visibility in ("public", "logged_in", "internal"):
        make_incident(title=visibility, visibility=visibility)

    assert services.list_incidents().count() == 3
