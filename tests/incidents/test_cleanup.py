"""A deleted catalog system is removed from its incidents, through the incident entity, once."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from catalog import services as catalog
from checkstack.entities.delivery import Outcome, deliver, sweep_inline
from checkstack.entities.models import Delivery, DeliveryStatus, TriggerEvent
from checkstack.entities.operations import mark_dead
from checkstack.entities.registry import work_queue_handler
from incidents.cleanup import CLEANUP_GROUP
from incidents.models import Incident
from tests.incidents.helpers import changes, events, make_incident, reload

pytestmark = pytest.mark.django_db

SYSTEM_ACTOR = {"type": "system", "id": "system", "name": "System"}


def cleanup_deliveries(system_id: str) -> list[Delivery]:
    return list(
        Delivery.objects.filter(
            group=CLEANUP_GROUP, kind="catalog-system", entity_id=system_id
        ).order_by("seq")
    )


def tombstone_delivery(system_id: str) -> Delivery:
    delivery = cleanup_deliveries(system_id)[-1]
    assert delivery.change.next is None
    return delivery


def system_ids_of(incident: Incident) -> list[str]:
    return sorted(reload(incident).systems.values_list("system_id", flat=True))


def test_the_cleanup_subscribes_a_work_queue_to_catalog_systems() -> None:
    assert work_queue_handler("catalog-system", CLEANUP_GROUP) is not None


def test_deleting_a_system_removes_it_from_its_incidents_through_the_entity(
    systems: list[str],
) -> None:
    both = make_incident(["db", "api"], title="both")
    only_db = make_incident(["db"], title="only db")
    other = make_incident(["web"], title="other")
    catalog.delete_system("db")

    sweep_inline()

    assert system_ids_of(both) == ["api"]
    assert system_ids_of(only_db) == []
    assert Incident.objects.filter(pk=only_db.pk).exists(), "incidents left without systems stay"
    for incident, remaining in ((both, ["api"]), (only_db, [])):
        last = changes(incident.pk)[-1]
        assert last.seq == 2
        assert last.prev is not None and "db" in last.prev["systemIds"]
        assert last.next == {"status": "investigating", "severity": "major", "systemIds": remaining}
        assert last.changed_fields == ["systemIds"]
        assert last.actor == SYSTEM_ACTOR
        assert events(incident.pk)[-1] == (
            "incident.updated",
            {
                "incidentId": incident.pk,
                "systemIds": remaining,
                "severity": "major",
                "status": "investigating",
            },
        )
    assert len(changes(other.pk)) == 1
    assert tombstone_delivery("db").status == DeliveryStatus.DONE


def test_resolved_incidents_lose_the_system_too(systems: list[str]) -> None:
    from incidents import services

    incident = make_incident(["db", "api"])
    services.resolve_incident(incident.pk)
    catalog.delete_system("api")

    sweep_inline()

    assert system_ids_of(incident) == ["db"]
    assert reload(incident).status == "resolved"
    assert events(incident.pk)[-1][0] == "incident.updated"


def test_non_tombstone_system_changes_leave_incidents_alone(systems: list[str]) -> None:
    incident = make_incident(["db"])
    catalog.update_system("db", name="Primary database", metadata={"tier": 1})

    sweep_inline()

    assert [d.status for d in cleanup_deliveries("db")] == [DeliveryStatus.DONE] * 2
    assert system_ids_of(incident) == ["db"]
    assert len(changes(incident.pk)) == 1


def test_the_cleanup_runs_once_when_its_delivery_is_processed_twice(systems: list[str]) -> None:
    incident = make_incident(["db", "api"])
    catalog.delete_system("db")
    creation = cleanup_deliveries("db")[0]
    tombstone = tombstone_delivery("db")
    assert deliver(creation.pk) is Outcome.DONE  # chains on to the tombstone's delivery
    tombstone.refresh_from_db()
    assert (tombstone.status, tombstone.attempts) == (DeliveryStatus.DONE, 1)
    history = len(changes(incident.pk))
    updated_events = TriggerEvent.objects.filter(event="incident.updated").count()

    assert deliver(tombstone.pk) is Outcome.SKIPPED
    # An operator (or a lost "done" mark) makes it pending again: the handler runs again.
    Delivery.objects.filter(pk=tombstone.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), finished_at=None
    )
    assert deliver(tombstone.pk) is Outcome.DONE

    assert len(changes(incident.pk)) == history
    assert TriggerEvent.objects.filter(event="incident.updated").count() == updated_events
    assert system_ids_of(incident) == ["api"]


def test_a_dead_earlier_delivery_does_not_hold_back_the_cleanup(systems: list[str]) -> None:
    incident = make_incident(["db", "api"])
    creation = cleanup_deliveries("db")[0]
    mark_dead([creation.pk])
    catalog.delete_system("db")

    assert deliver(tombstone_delivery("db").pk) is Outcome.DONE

    assert system_ids_of(incident) == ["api"]


def test_an_incident_deleted_before_the_cleanup_is_skipped(systems: list[str]) -> None:
    from incidents import services

    gone = make_incident(["db"])
    kept = make_incident(["db", "web"])
    catalog.delete_system("db")
    services.delete_incident(gone.pk)

    sweep_inline()

    assert tombstone_delivery("db").status == DeliveryStatus.DONE
    assert system_ids_of(kept) == ["web"]


def test_cleanup_handler_failure_is_retried_and_rolled_back(
    systems: list[str], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from incidents.services import system_removal

    settings.CHECKSTACK_DELIVERY_RETRY_BASE = 3600
    first = make_incident(["db"], title="first")
    second = make_incident(["db"], title="second")
    original = system_removal.write_incident
    calls: list[str] = []

    def flaky_write(incident_id: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(incident_id)
        result = original(incident_id, *args, **kwargs)
        if len(calls) == 2:
            raise RuntimeError("worker lost its connection")
        return result

    monkeypatch.setattr(system_removal, "write_incident", flaky_write)
    catalog.delete_system("db")
    sweep_inline()

    tombstone = tombstone_delivery("db")
    assert (tombstone.status, tombstone.attempts) == (DeliveryStatus.PENDING, 1)
    # Both incident writes of the failed attempt were rolled back together.
    assert system_ids_of(first) == system_ids_of(second) == ["db"]
    assert len(changes(first.pk)) == len(changes(second.pk)) == 1

    Delivery.objects.filter(pk=tombstone.pk).update(next_attempt_at=timezone.now())
    assert deliver(tombstone.pk) is Outcome.DONE
    assert system_ids_of(first) == system_ids_of(second) == []
    assert len(changes(first.pk)) == len(changes(second.pk)) == 2


def test_the_cleanup_sends_incident_changed_as_the_system_actor(
    systems: list[str], sent: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    incident = make_incident(["db", "api"])
    catalog.delete_system("db")

    with django_capture_on_commit_callbacks(execute=True):
        sweep_inline()

    assert sent == [
        {
            "sender": Incident,
            "incident_id": incident.pk,
            "system_ids": ["api"],
            "action": "updated",
            "actor": SYSTEM_ACTOR,
        }
    ]
