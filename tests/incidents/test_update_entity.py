"""Timeline updates are ``incident-update`` entities: adding, re-publishing and deleting one is a
logged change (what the status page's subscribers react to), even when the incident is not."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from checkstack.entities.models import Change
from incidents import services
from incidents.entity import UPDATE_KIND
from tests.incidents.helpers import make_incident

pytestmark = pytest.mark.django_db


def update_changes(update_id: str) -> list[Change]:
    return list(Change.objects.filter(kind=UPDATE_KIND, entity_id=update_id).order_by("seq"))


def test_adding_a_message_only_update_logs_an_update_change(systems):
    incident = make_incident()
    update = services.add_update(incident.pk, message="Looking into it", visibility="internal")
    (change,) = update_changes(update.pk)
    assert change.prev is None
    assert change.next == {
        "incidentId": incident.pk,
        "visibility": "internal",
        "statusChange": None,
    }


def test_publishing_an_update_logs_its_visibility_change(systems):
    incident = make_incident()
    update = services.add_update(incident.pk, message="Cause found", visibility="internal")
    services.edit_update(incident.pk, update.pk, visibility="public")
    first, second = update_changes(update.pk)
    assert second.prev == first.next
    assert second.delta == {"visibility": "public"}


def test_editing_only_the_text_logs_nothing(systems):
    incident = make_incident()
    update = services.add_update(incident.pk, message="typo", status_change="identified")
    services.edit_update(incident.pk, update.pk, message="fixed typo")
    assert len(update_changes(update.pk)) == 1


def test_deleting_an_update_logs_a_tombstone(systems):
    incident = make_incident()
    update = services.add_update(incident.pk, message="Wrong incident")
    services.delete_update(incident.pk, update.pk)
    assert [c.next for c in update_changes(update.pk)][-1] is None


def test_a_refused_update_logs_nothing(systems):
    incident = make_incident()
    with pytest.raises(ValidationError):
        services.add_update(incident.pk, message="", visibility="public")
    assert not Change.objects.filter(kind=UPDATE_KIND).exists()
