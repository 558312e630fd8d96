"""Status re-derivation: the status_change of the newest status-bearing timeline update.

Order is ``created_at`` desc, then id desc; message-only updates are ignored; with none left the
status stays. Published times are placed explicitly so that no two updates tie by accident.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import Incident, IncidentUpdate
from tests.incidents.helpers import changes, events, make_incident, place_update, reload, status_of

pytestmark = pytest.mark.django_db

LOW_ID = "00000000-0000-4000-8000-000000000001"
HIGH_ID = "ffffffff-ffff-4fff-bfff-fffffffffffe"


def hours_ago(hours: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=hours)


def timeline(incident: Incident, *entries: tuple[str, str | None, int]) -> list[IncidentUpdate]:
    """Add ``(message, status_change, hours ago)`` updates through the service, then place them."""
    updates = [
        services.add_update(incident.pk, message=message, status_change=status)
        for message, status, _ in entries
    ]
    return [
        place_update(update, hours_ago(hours))
        for update, (_, _, hours) in zip(updates, entries, strict=True)
    ]


def rename(update: IncidentUpdate, new_id: str) -> IncidentUpdate:
    IncidentUpdate.objects.filter(pk=update.pk).update(id=new_id)
    return IncidentUpdate.objects.get(pk=new_id)


def test_deleting_the_latest_status_update_falls_back_to_the_previous_one(
    systems: list[str],
) -> None:
    incident = make_incident(["db"])
    _, _, fixing = timeline(
        incident, ("cause", "identified", 3), ("note", None, 2), ("fix", "fixing", 1)
    )
    assert status_of(incident.pk) == "fixing"

    services.delete_update(incident.pk, fixing.pk)

    assert status_of(incident.pk) == "identified"
    assert events(incident.pk)[-1] == (
        "incident.updated",
        {
            "incidentId": incident.pk,
            "systemIds": ["db"],
            "severity": "major",
            "status": "identified",
            "statusChange": "identified",
        },
    )


def test_deleting_the_latest_resolving_update_reopens(systems: list[str]) -> None:
    incident = make_incident(["db"])
    _, resolved = timeline(incident, ("watching", "monitoring", 2), ("done", "resolved", 1))
    assert reload(incident).resolved_at is not None

    services.delete_update(incident.pk, resolved.pk)

    row = reload(incident)
    assert (row.status, row.resolved_at) == ("monitoring", None)
    assert events(incident.pk)[-1][0] == "incident.updated"


def test_deleting_a_non_latest_status_update_keeps_the_status(systems: list[str]) -> None:
    incident = make_incident(["db"])
    identified, _ = timeline(incident, ("cause", "identified", 2), ("fix", "fixing", 1))
    change_count = len(changes(incident.pk))

    services.delete_update(incident.pk, identified.pk)

    assert status_of(incident.pk) == "fixing"
    assert len(changes(incident.pk)) == change_count


def test_deleting_a_message_only_update_does_not_re_derive(systems: list[str]) -> None:
    incident = make_incident(["db"])
    identified, fixing, note = timeline(
        incident, ("cause", "identified", 3), ("fix", "fixing", 2), ("note", None, 1)
    )
    # Make the timeline disagree with the stored status: only a re-derivation would notice.
    place_update(fixing, hours_ago(4))
    change_count = len(changes(incident.pk))

    services.delete_update(incident.pk, note.pk)

    assert status_of(incident.pk) == "fixing"
    assert len(changes(incident.pk)) == change_count
    assert IncidentUpdate.objects.filter(pk=identified.pk).exists()


def test_deleting_the_only_status_update_leaves_the_status_unchanged(
    systems: list[str],
) -> None:
    incident = make_incident(["db"])
    (monitoring,) = timeline(incident, ("watching", "monitoring", 1))

    services.delete_update(incident.pk, monitoring.pk)

    assert status_of(incident.pk) == "monitoring"


def test_moving_an_older_status_update_after_the_newest_re_derives(systems: list[str]) -> None:
    incident = make_incident(["db"])
    identified, _ = timeline(incident, ("cause", "identified", 2), ("fix", "fixing", 1))

    services.edit_update(incident.pk, identified.pk, created_at=timezone.now())

    assert status_of(incident.pk) == "identified"
    assert events(incident.pk)[-1][1]["statusChange"] == "identified"
    edited = IncidentUpdate.objects.get(pk=identified.pk)
    assert edited.edited_at is not None
    assert len(edited.edit_history) == 1


def test_moving_the_newest_status_update_before_another_re_derives(systems: list[str]) -> None:
    incident = make_incident(["db"])
    _, fixing = timeline(incident, ("cause", "identified", 2), ("fix", "fixing", 1))

    services.edit_update(incident.pk, fixing.pk, created_at=hours_ago(5))

    assert status_of(incident.pk) == "identified"


def test_moving_a_resolving_update_to_the_front_resolves(systems: list[str]) -> None:
    incident = make_incident(["db"])
    resolved, _ = timeline(incident, ("done", "resolved", 2), ("back again", "investigating", 1))
    assert (status_of(incident.pk), reload(incident).resolved_at) == ("investigating", None)

    services.edit_update(incident.pk, resolved.pk, created_at=timezone.now())

    row = reload(incident)
    assert row.status == "resolved"
    assert row.resolved_at is not None
    assert events(incident.pk)[-1][0] == "incident.resolved"


def test_moving_a_message_only_update_keeps_the_status(systems: list[str]) -> None:
    incident = make_incident(["db"])
    _, _, note = timeline(
        incident, ("cause", "identified", 3), ("fix", "fixing", 2), ("note", None, 1)
    )

    services.edit_update(incident.pk, note.pk, created_at=hours_ago(10))

    assert status_of(incident.pk) == "fixing"


def test_clearing_the_status_change_of_the_newest_update_re_derives(systems: list[str]) -> None:
    incident = make_incident(["db"])
    _, fixing = timeline(incident, ("cause", "identified", 2), ("fix", "fixing", 1))

    services.edit_update(incident.pk, fixing.pk, status_change=None)

    assert status_of(incident.pk) == "identified"
    assert IncidentUpdate.objects.get(pk=fixing.pk).status_change is None


@pytest.mark.parametrize(
    ("edited", "expected"),
    [
        # The newer "fixing" update gets the higher id and is moved back onto the older time.
        pytest.param("fixing", "fixing", id="moved-update-has-higher-id"),
        # The older "identified" update gets the higher id and is moved onto the newer time.
        pytest.param("identified", "identified", id="moved-update-has-higher-id-2"),
    ],
)
def test_equal_created_at_ties_go_to_the_higher_id(
    systems: list[str], edited: str, expected: str
) -> None:
    incident = make_incident(["db"])
    identified, fixing = timeline(incident, ("cause", "identified", 2), ("fix", "fixing", 1))
    by_status = {"identified": identified, "fixing": fixing}
    moved = rename(by_status[edited], HIGH_ID)
    still = rename(by_status["fixing" if edited == "identified" else "identified"], LOW_ID)

    services.edit_update(incident.pk, moved.pk, created_at=still.created_at)

    assert IncidentUpdate.objects.get(pk=HIGH_ID).created_at == still.created_at
    assert status_of(incident.pk) == expected


@pytest.mark.parametrize(
    ("high", "expected"),
    [("identified", "identified"), ("fixing", "fixing")],
)
def test_ties_by_id_also_decide_after_a_delete(
    systems: list[str], high: str, expected: str
) -> None:
    incident = make_incident(["db"])
    identified, fixing, monitoring = timeline(
        incident, ("cause", "identified", 3), ("fix", "fixing", 2), ("watch", "monitoring", 1)
    )
    place_update(fixing, identified.created_at)
    rename(identified, HIGH_ID if high == "identified" else LOW_ID)
    rename(fixing, HIGH_ID if high == "fixing" else LOW_ID)

    services.delete_update(incident.pk, monitoring.pk)

    assert status_of(incident.pk) == expected
