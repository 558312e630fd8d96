"""Every incident service operation of incidents.md: inputs, writes, change log, events, signals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from checkstack import references
from checkstack.entities.models import Change, TriggerEvent
from checkstack.errors import Conflict, NotFound
from incidents import services
from incidents.models import Incident, IncidentLink, IncidentSystem, IncidentUpdate
from incidents.services import bulk as bulk_services
from tests.incidents.helpers import (
    age_incident,
    changes,
    events,
    make_incident,
    reload,
    status_of,
)

pytestmark = pytest.mark.django_db

SYSTEM_ACTOR = {"type": "system", "id": "system", "name": "System"}


def error_messages(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


def nothing_written() -> bool:
    return not (
        Incident.objects.exists()
        or IncidentUpdate.objects.exists()
        or Change.objects.filter(kind="incident").exists()
    )


@pytest.fixture
def user() -> Any:
    return get_user_model().objects.create_user("olga", first_name="Olga", last_name="Ops")


# -- create -------------------------------------------------------------------------------------


def test_create_starts_investigating_with_sorted_distinct_systems(systems: list[str]) -> None:
    incident = make_incident(["web", "db", "web"], severity="critical", title="  Outage  ")

    row = reload(incident)
    assert (row.title, row.status, row.severity) == ("Outage", "investigating", "critical")
    assert row.resolved_at is None
    assert sorted(
        IncidentSystem.objects.filter(incident=row).values_list("system_id", flat=True)
    ) == [
        "db",
        "web",
    ]
    (change,) = changes(incident.pk)
    assert change.prev is None
    assert change.next == {
        "status": "investigating",
        "severity": "critical",
        "systemIds": ["db", "web"],
    }
    assert change.actor == SYSTEM_ACTOR
    assert [e for e, _ in events(incident.pk)] == ["incident.created"]


def test_create_defaults_severity_major_and_stores_optional_fields(systems: list[str]) -> None:
    incident = make_incident(
        ["db"],
        description="Replica *lag*",
        suppress_notifications=True,
        health_override="degraded",
    )
    row = reload(incident)
    assert row.severity == "major"
    assert (row.description, row.suppress_notifications, row.health_override) == (
        "Replica *lag*",
        True,
        "degraded",
    )


def test_create_with_initial_message_adds_one_public_investigating_update_by_the_actor(
    systems: list[str], user: Any
) -> None:
    incident = make_incident(["db"], initial_message="Looking into it", actor=user)

    (update,) = IncidentUpdate.objects.filter(incident_id=incident.pk)
    assert (update.message, update.status_change, update.visibility) == (
        "Looking into it",
        "investigating",
        "public",
    )
    assert update.created_by == user
    assert changes(incident.pk)[0].actor == {"type": "user", "id": str(user.pk), "name": "Olga Ops"}


def test_create_with_blank_initial_message_adds_no_update(systems: list[str]) -> None:
    incident = make_incident(["db"], initial_message="   ")
    assert not IncidentUpdate.objects.filter(incident_id=incident.pk).exists()


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"system_ids": []}, "system_ids"),
        ({"system_ids": ["db", ""]}, "system_ids"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"health_override": "on-fire"}, "health_override"),
        ({"suppress_notifications": "yes"}, "suppress_notifications"),
    ],
)
def test_create_rejects_bad_input_and_writes_nothing(
    systems: list[str], fields: dict[str, Any], bad_field: str
) -> None:
    kwargs: dict[str, Any] = {"title": "Outage", "system_ids": ["db"], **fields}
    with pytest.raises(ValidationError) as exc:
        services.create_incident(**kwargs)
    assert bad_field in error_messages(exc)
    assert nothing_written()


def test_create_rejects_unknown_system_ids_listing_them(systems: list[str]) -> None:
    with pytest.raises(ValidationError) as exc:
        make_incident(["db", "ghost-2", "ghost-1"])
    assert error_messages(exc) == {"system_ids": ["Unknown system ids: ghost-1, ghost-2."]}
    assert nothing_written()


def test_create_without_the_catalog_checker_does_not_check_system_ids(db: None) -> None:
    saved = references.snapshot()
    references.restore({})
    try:
        incident = make_incident(["not-in-any-catalog"])
    finally:
        references.restore(saved)
    assert list(reload(incident).systems.values_list("system_id", flat=True)) == [
        "not-in-any-catalog"
    ]


# -- create deduped -----------------------------------------------------------------------------


def test_deduped_create_reuses_the_active_incident_of_the_system_and_writes_nothing(
    systems: list[str], sent: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    first, reused = services.create_deduped_for_system("db", title="DB down", system_ids=["db"])
    assert reused is False
    change_count = Change.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        again, reused = services.create_deduped_for_system(
            "db", title="DB down again", system_ids=["db", "api"]
        )

    assert (again.pk, reused) == (first.pk, True)
    assert Incident.objects.count() == 1
    assert Change.objects.count() == change_count
    assert sent == []


def test_deduped_create_ignores_resolved_incidents_and_other_systems(systems: list[str]) -> None:
    resolved = make_incident(["db"])
    services.resolve_incident(resolved.pk)
    make_incident(["api"])

    incident, reused = services.create_deduped_for_system("db", title="DB down", system_ids=["db"])

    assert reused is False
    assert incident.pk != resolved.pk
    assert Incident.objects.count() == 3


def test_deduped_create_links_the_key_system_even_when_not_listed(systems: list[str]) -> None:
    incident, _ = services.create_deduped_for_system("db", title="DB down", system_ids=["api"])
    assert changes(incident.pk)[0].next["systemIds"] == ["api", "db"]


# -- update ---------------------------------------------------------------------------------------


def test_update_of_unknown_incident_is_not_found(db: None) -> None:
    with pytest.raises(NotFound):
        services.update_incident("no-such-incident", title="x")


def test_update_with_status_is_rejected_and_changes_nothing(systems: list[str]) -> None:
    incident = make_incident(["db"])
    past = age_incident(incident.pk)

    with pytest.raises(ValidationError) as exc:
        services.update_incident(incident.pk, status="resolved", title="Renamed")

    assert "status" in error_messages(exc)
    row = reload(incident)
    assert (row.status, row.title, row.updated_at) == ("investigating", "Database down", past)
    assert len(changes(incident.pk)) == 1


def test_update_of_non_reactive_fields_bumps_updated_at_without_a_change(
    systems: list[str],
) -> None:
    incident = make_incident(["db"], description="old", health_override="unhealthy")
    past = age_incident(incident.pk)

    services.update_incident(
        incident.pk,
        title="Renamed",
        description=None,
        suppress_notifications=True,
        health_override=None,
    )

    row = reload(incident)
    assert (row.title, row.description, row.suppress_notifications, row.health_override) == (
        "Renamed",
        None,
        True,
        None,
    )
    assert row.updated_at > past
    assert len(changes(incident.pk)) == 1
    assert [e for e, _ in events(incident.pk)] == ["incident.created"]


def test_update_of_severity_logs_a_change_and_an_updated_event(systems: list[str]) -> None:
    incident = make_incident(["db"], severity="minor")

    services.update_incident(incident.pk, severity="critical")

    last = changes(incident.pk)[-1]
    assert (last.changed_fields, last.delta) == (["severity"], {"severity": "critical"})
    assert events(incident.pk)[-1] == (
        "incident.updated",
        {
            "incidentId": incident.pk,
            "systemIds": ["db"],
            "severity": "critical",
            "status": "investigating",
        },
    )


def test_update_of_system_ids_replaces_the_set(systems: list[str]) -> None:
    incident = make_incident(["db", "api"])

    services.update_incident(incident.pk, system_ids=["web", "api", "web"])

    assert sorted(reload(incident).systems.values_list("system_id", flat=True)) == ["api", "web"]
    assert changes(incident.pk)[-1].next["systemIds"] == ["api", "web"]
    assert events(incident.pk)[-1][1]["systemIds"] == ["api", "web"]


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"system_ids": []}, "system_ids"),
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"severity": "huge"}, "severity"),
        ({"health_override": "purple"}, "health_override"),
    ],
)
def test_update_rejects_bad_input_and_changes_nothing(
    systems: list[str], fields: dict[str, Any], bad_field: str
) -> None:
    incident = make_incident(["db"])
    with pytest.raises(ValidationError) as exc:
        services.update_incident(incident.pk, **fields)
    assert bad_field in error_messages(exc)
    assert len(changes(incident.pk)) == 1
    assert reload(incident).title == "Database down"


def test_update_rejects_unknown_system_ids_listing_them(systems: list[str]) -> None:
    incident = make_incident(["db"])
    with pytest.raises(ValidationError) as exc:
        services.update_incident(incident.pk, system_ids=["api", "nope"])
    assert error_messages(exc) == {"system_ids": ["Unknown system ids: nope."]}
    assert list(reload(incident).systems.values_list("system_id", flat=True)) == ["db"]


# -- timeline: add ------------------------------------------------------------------------------


def test_message_only_update_bumps_updated_at_but_logs_no_change(
    systems: list[str], user: Any
) -> None:
    incident = make_incident(["db"])
    past = age_incident(incident.pk)

    update = services.add_update(incident.pk, message="Still digging", actor=user)

    row = reload(incident)
    assert row.updated_at > past
    assert row.status == "investigating"
    stored = IncidentUpdate.objects.get(pk=update.pk)
    assert (stored.message, stored.status_change, stored.visibility, stored.created_by) == (
        "Still digging",
        None,
        "public",
        user,
    )
    assert len(changes(incident.pk)) == 1
    assert TriggerEvent.objects.filter(event="incident.updated").count() == 0


def test_update_with_status_change_sets_status_and_fires_updated_with_status_change(
    systems: list[str],
) -> None:
    incident = make_incident(["db"])

    services.add_update(
        incident.pk, message="Found it", status_change="identified", visibility="internal"
    )

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


def test_update_resolving_sets_resolved_at_and_fires_only_resolved(systems: list[str]) -> None:
    incident = make_incident(["db"])

    services.add_update(incident.pk, message="Fixed", status_change="resolved")

    row = reload(incident)
    assert row.status == "resolved"
    assert row.resolved_at is not None
    last_change = changes(incident.pk)[-1]
    assert TriggerEvent.objects.filter(change=last_change).count() == 1
    assert events(incident.pk)[-1][0] == "incident.resolved"


def test_update_reopening_clears_resolved_at_and_fires_updated(systems: list[str]) -> None:
    incident = make_incident(["db"])
    services.resolve_incident(incident.pk)

    services.add_update(incident.pk, message="It is back", status_change="fixing")

    row = reload(incident)
    assert (row.status, row.resolved_at) == ("fixing", None)
    assert events(incident.pk)[-1][0] == "incident.updated"
    assert events(incident.pk)[-1][1]["statusChange"] == "fixing"


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"message": "  "}, "message"),
        ({"message": "ok", "status_change": "exploded"}, "status_change"),
        ({"message": "ok", "visibility": "everyone"}, "visibility"),
    ],
)
def test_add_update_rejects_bad_input_and_adds_nothing(
    systems: list[str], fields: dict[str, Any], bad_field: str
) -> None:
    incident = make_incident(["db"])
    with pytest.raises(ValidationError) as exc:
        services.add_update(incident.pk, **fields)
    assert bad_field in error_messages(exc)
    assert not IncidentUpdate.objects.exists()


def test_add_update_to_unknown_incident_is_not_found(db: None) -> None:
    with pytest.raises(NotFound):
        services.add_update("missing", message="hello")
    assert not IncidentUpdate.objects.exists()


# -- timeline: edit -----------------------------------------------------------------------------


def test_edit_with_real_change_sets_edited_at_and_records_pre_edit_values(
    systems: list[str],
) -> None:
    incident = make_incident(["db"])
    update = services.add_update(incident.pk, message="Frist", visibility="internal")
    original_created = IncidentUpdate.objects.get(pk=update.pk).created_at
    past = age_incident(incident.pk)

    services.edit_update(incident.pk, update.pk, message="First", visibility="public")

    edited = IncidentUpdate.objects.get(pk=update.pk)
    assert (edited.message, edited.visibility) == ("First", "public")
    assert edited.edited_at is not None
    assert edited.edit_history == [
        {
            "message": "Frist",
            "status_change": None,
            "visibility": "internal",
            "created_at": original_created.isoformat(),
            "edited_at": None,
        }
    ]
    assert reload(incident).updated_at > past


def test_edit_history_keeps_every_edit_oldest_first(systems: list[str]) -> None:
    incident = make_incident(["db"])
    update = services.add_update(incident.pk, message="one")
    services.edit_update(incident.pk, update.pk, message="two")
    first_edit = IncidentUpdate.objects.get(pk=update.pk).edited_at
    assert first_edit is not None

    services.edit_update(incident.pk, update.pk, message="three")

    history = IncidentUpdate.objects.get(pk=update.pk).edit_history
    assert [h["message"] for h in history] == ["one", "two"]
    assert history[0]["edited_at"] is None
    assert history[1]["edited_at"] == first_edit.isoformat()


def test_edit_with_the_same_values_records_no_history_and_no_edited_at(
    systems: list[str],
) -> None:
    incident = make_incident(["db"])
    update = services.add_update(incident.pk, message="Same", status_change="identified")
    stored = IncidentUpdate.objects.get(pk=update.pk)

    services.edit_update(
        incident.pk,
        update.pk,
        message="Same",
        status_change="identified",
        visibility="public",
        created_at=stored.created_at,
    )

    again = IncidentUpdate.objects.get(pk=update.pk)
    assert (again.edited_at, again.edit_history) == (None, [])
    assert len(changes(incident.pk)) == 2


def test_edit_without_fields_returns_the_unchanged_update(systems: list[str]) -> None:
    incident = make_incident(["db"])
    update = services.add_update(incident.pk, message="Hello")

    returned = services.edit_update(incident.pk, update.pk)

    assert (returned.pk, returned.message, returned.edited_at) == (update.pk, "Hello", None)
    assert IncidentUpdate.objects.get(pk=update.pk).edit_history == []


def test_edit_of_status_change_re_derives_the_incident_status(systems: list[str]) -> None:
    incident = make_incident(["db"])
    update = services.add_update(incident.pk, message="Cause found", status_change="identified")

    services.edit_update(incident.pk, update.pk, status_change="monitoring")

    assert status_of(incident.pk) == "monitoring"
    assert events(incident.pk)[-1][1]["statusChange"] == "monitoring"


def test_edit_rejects_a_naive_created_at(systems: list[str]) -> None:
    incident = make_incident(["db"])
    update = services.add_update(incident.pk, message="Hello")
    with pytest.raises(ValidationError) as exc:
        services.edit_update(incident.pk, update.pk, created_at=dt.datetime(2024, 1, 1, 12, 0))
    assert "created_at" in error_messages(exc)


def test_edit_and_delete_of_an_update_of_another_incident_are_not_found(
    systems: list[str],
) -> None:
    mine = make_incident(["db"])
    other = make_incident(["api"])
    foreign = services.add_update(other.pk, message="Theirs")

    with pytest.raises(NotFound):
        services.edit_update(mine.pk, foreign.pk, message="Mine now")
    with pytest.raises(NotFound):
        services.edit_update(mine.pk, foreign.pk)
    with pytest.raises(NotFound):
        services.delete_update(mine.pk, foreign.pk)

    stored = IncidentUpdate.objects.get(pk=foreign.pk)
    assert (stored.incident_id, stored.message, stored.edit_history) == (other.pk, "Theirs", [])


def test_delete_of_an_unknown_update_is_not_found(systems: list[str]) -> None:
    incident = make_incident(["db"])
    with pytest.raises(NotFound):
        services.delete_update(incident.pk, "no-such-update")


def test_delete_of_an_update_bumps_updated_at(systems: list[str]) -> None:
    incident = make_incident(["db"])
    update = services.add_update(incident.pk, message="Typo")
    past = age_incident(incident.pk)

    services.delete_update(incident.pk, update.pk)

    assert not IncidentUpdate.objects.filter(pk=update.pk).exists()
    assert reload(incident).updated_at > past


# -- resolve ------------------------------------------------------------------------------------


def test_resolve_adds_the_default_update_and_fires_resolved(systems: list[str], user: Any) -> None:
    incident = make_incident(["db", "api"])

    resolved = services.resolve_incident(incident.pk, actor=user)

    assert resolved.status == "resolved"
    row = reload(incident)
    assert (row.status, row.resolved_at is not None) == ("resolved", True)
    (update,) = IncidentUpdate.objects.filter(incident_id=incident.pk)
    assert (update.message, update.status_change, update.created_by) == (
        "Incident resolved",
        "resolved",
        user,
    )
    assert events(incident.pk)[-1] == (
        "incident.resolved",
        {
            "incidentId": incident.pk,
            "systemIds": ["api", "db"],
            "severity": "major",
            "status": "resolved",
            "statusChange": "resolved",
        },
    )


def test_resolve_with_a_message_uses_it(systems: list[str]) -> None:
    incident = make_incident(["db"])
    services.resolve_incident(incident.pk, message="Failover done")
    assert IncidentUpdate.objects.get(incident_id=incident.pk).message == "Failover done"


def test_resolving_a_resolved_incident_adds_no_update_and_no_change(
    systems: list[str], sent: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    incident = make_incident(["db"])
    services.resolve_incident(incident.pk)
    resolved_at = reload(incident).resolved_at
    change_count = len(changes(incident.pk))

    with django_capture_on_commit_callbacks(execute=True):
        again = services.resolve_incident(incident.pk, message="Resolved again")

    assert again.status == "resolved"
    assert IncidentUpdate.objects.filter(incident_id=incident.pk).count() == 1
    assert len(changes(incident.pk)) == change_count
    assert reload(incident).resolved_at == resolved_at
    assert sent == []


def test_resolve_of_unknown_incident_is_not_found(db: None) -> None:
    with pytest.raises(NotFound):
        services.resolve_incident("missing")


# -- delete -------------------------------------------------------------------------------------


def test_delete_removes_everything_and_logs_a_tombstone_without_events(
    systems: list[str],
) -> None:
    incident = make_incident(["db", "api"], initial_message="Start")
    services.add_link(incident.pk, url="https://status.example.com/1")
    event_count = TriggerEvent.objects.count()

    services.delete_incident(incident.pk)

    assert not Incident.objects.filter(pk=incident.pk).exists()
    assert not IncidentSystem.objects.exists()
    assert not IncidentUpdate.objects.exists()
    assert not IncidentLink.objects.exists()
    tombstone = changes(incident.pk)[-1]
    assert tombstone.next is None
    assert tombstone.prev == {
        "status": "investigating",
        "severity": "major",
        "systemIds": ["api", "db"],
    }
    assert TriggerEvent.objects.count() == event_count


def test_delete_of_unknown_incident_is_not_found(db: None) -> None:
    with pytest.raises(NotFound):
        services.delete_incident("missing")
    assert not Change.objects.exists()


# -- bulk ---------------------------------------------------------------------------------------


def failing_for(monkeypatch: pytest.MonkeyPatch, name: str, broken_id: str) -> Callable[..., Any]:
    """Make ``<name>`` raise for ``broken_id`` (an unexpected per-item failure), where the bulk
    operations look it up."""
    original = getattr(bulk_services, name)

    def replacement(incident_id: str, *args: Any, **kwargs: Any) -> Any:
        if incident_id == broken_id:
            raise RuntimeError("database hiccup")
        return original(incident_id, *args, **kwargs)

    monkeypatch.setattr(bulk_services, name, replacement)
    return replacement


def test_bulk_resolve_reports_one_result_per_distinct_id_in_input_order(
    systems: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    open_one = make_incident(["db"], title="open")
    already = make_incident(["db"], title="already")
    services.resolve_incident(already.pk)
    denied = make_incident(["db"], title="denied")
    broken = make_incident(["db"], title="broken")
    last = make_incident(["api"], title="last")
    failing_for(monkeypatch, "resolve_incident", broken.pk)

    results = services.bulk_resolve(
        [open_one.pk, "missing", already.pk, denied.pk, open_one.pk, broken.pk, last.pk],
        message="Bulk fix",
        allow=lambda incident: incident.pk != denied.pk,
    )

    assert [(r.id, r.status) for r in results] == [
        (open_one.pk, "resolved"),
        ("missing", "not_found"),
        (already.pk, "unchanged"),
        (denied.pk, "forbidden"),
        (broken.pk, "error"),
        (last.pk, "resolved"),
    ]
    assert status_of(open_one.pk) == status_of(last.pk) == "resolved"
    assert status_of(denied.pk) == status_of(broken.pk) == "investigating"
    assert IncidentUpdate.objects.get(incident_id=last.pk).message == "Bulk fix"
    assert IncidentUpdate.objects.filter(incident_id=already.pk).count() == 1


def test_bulk_delete_reports_one_result_per_distinct_id_in_input_order(
    systems: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_incident(["db"])
    denied = make_incident(["db"])
    broken = make_incident(["db"])
    last = make_incident(["db"])
    failing_for(monkeypatch, "delete_incident", broken.pk)

    results = services.bulk_delete(
        [first.pk, denied.pk, "missing", first.pk, broken.pk, last.pk],
        allow=lambda incident: incident.pk != denied.pk,
    )

    assert [(r.id, r.status) for r in results] == [
        (first.pk, "deleted"),
        (denied.pk, "forbidden"),
        ("missing", "not_found"),
        (broken.pk, "error"),
        (last.pk, "deleted"),
    ]
    assert set(Incident.objects.values_list("pk", flat=True)) == {denied.pk, broken.pk}


@pytest.mark.parametrize("operation", [services.bulk_resolve, services.bulk_delete])
@pytest.mark.parametrize("ids", [[], [f"id-{n}" for n in range(501)]], ids=["0 ids", "501 ids"])
def test_bulk_operations_reject_zero_and_more_than_500_ids(
    db: None, operation: Callable[..., Any], ids: list[str]
) -> None:
    with pytest.raises(ValidationError) as exc:
        operation(ids)
    assert "ids" in error_messages(exc)


def test_bulk_ids_are_counted_after_collapsing_duplicates(db: None) -> None:
    ids = [f"id-{n}" for n in range(500)] + ["id-0"]
    results = services.bulk_resolve(ids)
    assert [r.id for r in results] == ids[:500]
    assert {r.status for r in results} == {"not_found"}


# -- links --------------------------------------------------------------------------------------


def test_add_link_stores_it_without_an_entity_change(systems: list[str]) -> None:
    incident = make_incident(["db"])
    past = age_incident(incident.pk)

    link = services.add_link(
        incident.pk, url=" https://runbooks.example.com/db ", label="Runbook", visibility="internal"
    )

    stored = IncidentLink.objects.get(pk=link.pk)
    assert (stored.incident_id, stored.url, stored.label, stored.visibility) == (
        incident.pk,
        "https://runbooks.example.com/db",
        "Runbook",
        "internal",
    )
    assert len(changes(incident.pk)) == 1
    assert reload(incident).updated_at > past


def test_duplicate_link_url_for_an_incident_is_a_conflict(systems: list[str]) -> None:
    incident = make_incident(["db"])
    other = make_incident(["api"])
    services.add_link(incident.pk, url="https://example.com/a")

    with pytest.raises(Conflict):
        services.add_link(incident.pk, url="https://example.com/a", label="again")
    services.add_link(other.pk, url="https://example.com/a")  # another incident may

    assert IncidentLink.objects.filter(incident_id=incident.pk).count() == 1


@pytest.mark.parametrize(
    "url",
    ["ftp://files.example.com/x", "javascript:alert(1)", "", "   ", "example.com/no-scheme"],
)
def test_links_accept_only_http_and_https_urls(systems: list[str], url: str) -> None:
    incident = make_incident(["db"])
    with pytest.raises(ValidationError) as exc:
        services.add_link(incident.pk, url=url)
    assert "url" in error_messages(exc)
    assert not IncidentLink.objects.exists()


def test_link_url_and_label_lengths_are_limited(systems: list[str]) -> None:
    incident = make_incident(["db"])
    with pytest.raises(ValidationError) as exc:
        services.add_link(incident.pk, url="https://example.com/" + "a" * 2000)
    assert "url" in error_messages(exc)
    with pytest.raises(ValidationError) as exc:
        services.add_link(incident.pk, url="https://example.com/", label="l" * 121)
    assert "label" in error_messages(exc)


def test_add_link_to_unknown_incident_is_not_found(db: None) -> None:
    with pytest.raises(NotFound):
        services.add_link("missing", url="https://example.com/")


def test_update_link_changes_fields_and_refuses_a_duplicate_url(systems: list[str]) -> None:
    incident = make_incident(["db"])
    services.add_link(incident.pk, url="https://example.com/a")
    link = services.add_link(incident.pk, url="https://example.com/b", label="B")

    services.update_link(incident.pk, link.pk, label="Bee", visibility="logged_in")
    with pytest.raises(Conflict):
        services.update_link(incident.pk, link.pk, url="https://example.com/a")
    with pytest.raises(ValidationError):
        services.update_link(incident.pk, link.pk, url="ftp://example.com/b")

    stored = IncidentLink.objects.get(pk=link.pk)
    assert (stored.url, stored.label, stored.visibility) == (
        "https://example.com/b",
        "Bee",
        "logged_in",
    )


@pytest.mark.parametrize("label", [None, "", "   "])
def test_update_link_cannot_null_the_label(systems: list[str], label: str | None) -> None:
    incident = make_incident(["db"])
    link = services.add_link(incident.pk, url="https://example.com/a", label="Dashboard")

    with pytest.raises(ValidationError) as exc:
        services.update_link(incident.pk, link.pk, label=label)

    assert "label" in error_messages(exc)
    assert IncidentLink.objects.get(pk=link.pk).label == "Dashboard"


def test_link_update_and_removal_are_scoped_by_incident(systems: list[str]) -> None:
    mine = make_incident(["db"])
    other = make_incident(["api"])
    foreign = services.add_link(other.pk, url="https://example.com/theirs")

    with pytest.raises(NotFound):
        services.update_link(mine.pk, foreign.pk, label="Mine")
    with pytest.raises(NotFound):
        services.remove_link(mine.pk, foreign.pk)
    assert IncidentLink.objects.filter(pk=foreign.pk, incident_id=other.pk).exists()

    services.remove_link(other.pk, foreign.pk)
    assert not IncidentLink.objects.exists()
    assert len(changes(other.pk)) == 1


# -- incident_changed ---------------------------------------------------------------------------


def test_incident_changed_reports_accurate_actions_after_commit(
    systems: list[str], sent: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    def actions_of(write: Callable[[], Any]) -> list[str]:
        sent.clear()
        with django_capture_on_commit_callbacks(execute=True):
            write()
            assert sent == [], "incident_changed must wait for COMMIT"
        return [s["action"] for s in sent]

    with django_capture_on_commit_callbacks(execute=True):
        incident = make_incident(["web", "db"])
    assert sent == [
        {
            "sender": Incident,
            "incident_id": incident.pk,
            "system_ids": ["db", "web"],
            "action": "created",
            "actor": SYSTEM_ACTOR,
        }
    ]
    pk = incident.pk
    assert actions_of(lambda: services.update_incident(pk, title="New title")) == ["updated"]
    assert actions_of(lambda: services.add_update(pk, message="note")) == ["updated"]
    assert actions_of(
        lambda: services.add_update(pk, message="found", status_change="identified")
    ) == ["updated"]
    assert actions_of(
        lambda: services.add_update(pk, message="done", status_change="resolved")
    ) == ["resolved"]
    assert actions_of(
        lambda: services.add_update(pk, message="back", status_change="investigating")
    ) == ["reopened"]
    assert actions_of(lambda: services.resolve_incident(pk)) == ["resolved"]
    assert actions_of(lambda: services.add_link(pk, url="https://example.com/")) == ["updated"]
    assert actions_of(lambda: services.delete_incident(pk)) == ["deleted"]
    assert sent[-1]["system_ids"] == ["db", "web"]


def test_incident_changed_reports_reopen_and_resolve_through_edits(
    systems: list[str], sent: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    incident = make_incident(["db"])
    fix = services.add_update(incident.pk, message="fixed", status_change="resolved")

    with django_capture_on_commit_callbacks(execute=True):
        services.edit_update(incident.pk, fix.pk, status_change="monitoring")
    with django_capture_on_commit_callbacks(execute=True):
        services.edit_update(incident.pk, fix.pk, status_change="resolved")

    assert [s["action"] for s in sent] == ["reopened", "resolved"]


def test_incident_changed_carries_the_user_actor(
    systems: list[str],
    user: Any,
    sent: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_incident(["db"], actor=user)
    assert sent[0]["actor"] == {"type": "user", "id": str(user.pk), "name": "Olga Ops"}


def test_failed_writes_send_no_incident_changed(
    systems: list[str], sent: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    incident = make_incident(["db"])
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(ValidationError):
            services.update_incident(incident.pk, status="resolved")
        with pytest.raises(NotFound):
            services.add_update("missing", message="x")
        with pytest.raises(ValidationError):
            make_incident(["ghost"])
    assert sent == []
