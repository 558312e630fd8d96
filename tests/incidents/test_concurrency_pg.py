"""Incidents under real concurrency on PostgreSQL: threads with their own connections.

Every test commits for real (``transaction=True``), so connections see each other's rows and
wait on each other's row and advisory locks.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from catalog import services as catalog
from catalog.models import System
from checkstack.entities.delivery import sweep_inline
from checkstack.entities.models import Change
from incidents import services
from incidents.models import Incident, IncidentSystem
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_deduped_creates_for_one_system_yield_one_incident() -> None:
    catalog.create_system(id="db", name="Database")
    catalog.create_system(id="api", name="API")

    for round_ in range(5):
        workers = run_together(
            *(
                (
                    lambda n=n, round_=round_: services.create_deduped_for_system(
                        "db", title=f"round {round_} caller {n}", system_ids=["db", "api"]
                    )
                )
                for n in range(3)
            )
        )
        assert [w.error for w in workers] == [None, None, None]
        incident_ids = {w.result[0].pk for w in workers}
        assert len(incident_ids) == 1
        assert sorted(w.result[1] for w in workers) == [False, True, True]
        (incident_id,) = incident_ids
        active = Incident.objects.filter(systems__system_id="db").exclude(status="resolved")
        assert list(active.values_list("pk", flat=True)) == [incident_id]
        services.resolve_incident(incident_id)

    assert Incident.objects.count() == 5


def test_a_system_deleted_during_incident_creation_never_leaves_a_link_to_it() -> None:
    outcomes: list[str] = []
    for round_ in range(15):
        system_id = f"sys-{round_}"
        catalog.create_system(id=system_id, name=system_id)
        catalog.create_system(id=f"keep-{round_}", name="kept")

        creator, deleter = run_together(
            lambda system_id=system_id, round_=round_: services.create_incident(
                title=f"round {round_}", system_ids=[system_id, f"keep-{round_}"]
            ),
            lambda system_id=system_id: catalog.delete_system(system_id),
        )

        assert deleter.error is None, repr(deleter.error)
        assert not System.objects.filter(pk=system_id).exists()
        if creator.error is None:
            outcomes.append("created")
            tombstone = Change.objects.get(kind="catalog-system", entity_id=system_id, seq=2)
            created = Change.objects.get(kind="incident", entity_id=creator.result.pk, seq=1)
            assert created.occurred_at < tombstone.occurred_at, "created after the delete"
        else:
            outcomes.append("rejected")
            assert isinstance(creator.error, ValidationError), repr(creator.error)
            assert creator.error.message_dict == {
                "system_ids": [f"Unknown system ids: {system_id}."]
            }

    sweep_inline()

    existing = set(System.objects.values_list("pk", flat=True))
    orphans = IncidentSystem.objects.exclude(system_id__in=existing)
    assert list(orphans.values_list("incident_id", "system_id")) == []
    assert Incident.objects.count() == outcomes.count("created")
    # Every created incident keeps the system that was not deleted.
    assert IncidentSystem.objects.count() == outcomes.count("created")


def test_a_system_deleted_while_an_incident_is_linked_to_it_never_leaves_a_link_to_it() -> None:
    catalog.create_system(id="keep", name="kept")
    incident = services.create_incident(title="Moving target", system_ids=["keep"])
    outcomes: list[str] = []
    for round_ in range(15):
        system_id = f"sys-{round_}"
        catalog.create_system(id=system_id, name=system_id)

        updater, deleter = run_together(
            lambda system_id=system_id: services.update_incident(
                incident.pk, system_ids=["keep", system_id]
            ),
            lambda system_id=system_id: catalog.delete_system(system_id),
        )

        assert deleter.error is None, repr(deleter.error)
        if updater.error is None:
            outcomes.append("linked")
            tombstone = Change.objects.get(kind="catalog-system", entity_id=system_id, seq=2)
            linked = (
                Change.objects.filter(kind="incident", entity_id=incident.pk)
                .filter(next__systemIds__contains=system_id)
                .get()
            )
            assert linked.occurred_at < tombstone.occurred_at, "linked after the delete"
        else:
            outcomes.append("rejected")
            assert isinstance(updater.error, ValidationError), repr(updater.error)
            assert updater.error.message_dict == {
                "system_ids": [f"Unknown system ids: {system_id}."]
            }
        sweep_inline()
        assert list(incident.systems.values_list("system_id", flat=True)) == ["keep"]

    assert not IncidentSystem.objects.exclude(system_id="keep").exists()
