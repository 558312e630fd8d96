"""Load: concurrent API clients doing mixed writes leave a consistent change log and outbox.

Several real threads, each an API client with its own database connection, create, edit,
update, resolve and delete incidents and create and delete catalog systems at once. Afterwards
(with the outbox processed inline) every entity's change log must be gap-free and contiguous,
every change must carry exactly the trigger events and deliveries its rules give, all of them
processed, and no incident may still link a deleted system.

Bounded for CI: ``CLIENTS`` x ``WRITES_PER_CLIENT`` writes in all (raise them for a soak run).
"""

from __future__ import annotations

import itertools
import random
import threading
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog import services as catalog_services
from catalog.entity import system_handle
from catalog.models import System
from checkstack.actors import to_actor
from checkstack.entities import registry as entity_registry
from checkstack.entities.delivery import sweep_inline
from checkstack.entities.models import (
    Change,
    Delivery,
    DeliveryStatus,
    EntitySequence,
    TriggerEvent,
)
from incidents.cleanup import CLEANUP_GROUP
from incidents.entity import incident_handle
from incidents.models import IncidentSystem
from tests.api.helpers import body, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 8
WRITES_PER_CLIENT = 25  # 200 writes in all; the full size is 200 per client
SEED_SYSTEMS = 10
SYSTEM_DELETES = 3  # clients 0..SYSTEM_DELETES-1 each delete one system halfway through
SEED = 20261126

INCIDENTS = "/api/incidents/"
SYSTEMS = "/api/catalog/systems/"
STATUSES = ("investigating", "identified", "fixing", "monitoring", "resolved")
SEVERITIES = ("minor", "major", "critical")
MANAGE_PERMISSIONS = (("incidents", "manage_incident"), ("catalog", "manage_catalog"))

# Weighted mix of the writes a client picks from (system deletes are scheduled, see above).
MIX = (
    ("create", 25),
    ("update", 20),
    ("add_update", 20),
    ("resolve", 12),
    ("delete", 8),
    ("system_create", 5),
)
WRITE_KINDS = (*(kind for kind, _ in MIX), "system_delete")


@dataclass
class Workload:
    """State shared by the clients: known live targets, outcomes and failures."""

    incidents: list[str]
    systems: list[str]
    victims: list[str] = field(default_factory=list)  # the system each deleting client deletes
    lock: threading.Lock = field(default_factory=threading.Lock)
    outcomes: Counter[tuple[str, int]] = field(default_factory=Counter)
    not_found: list[tuple[str, str]] = field(default_factory=list)  # (kind, entity id)
    unknown_systems: list[str] = field(default_factory=list)
    deleted_systems: list[str] = field(default_factory=list)
    anchors: dict[str, str] = field(default_factory=dict)  # incident id -> its deleted system
    failures: list[str] = field(default_factory=list)

    def pick_incident(self, rng: random.Random) -> str | None:
        with self.lock:
            return rng.choice(self.incidents) if self.incidents else None

    def pick_systems(self, rng: random.Random) -> list[str]:
        with self.lock:
            return rng.sample(self.systems, rng.randint(1, min(3, len(self.systems))))

    def forget(self, items: list[str], item: str) -> None:
        with self.lock:
            if item in items:
                items.remove(item)

    def remember(self, items: list[str], item: str) -> None:
        with self.lock:
            items.append(item)


def manager_token(username: str) -> str:
    """A token of a user holding both manage permissions through a group."""
    group, _ = Group.objects.get_or_create(name="Incident managers")
    for app_label, codename in MANAGE_PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    user = make_user(username)
    user.groups.add(group)
    return str(Token.objects.create(user=user).key)


class Client:
    """One API client thread's writes; every response is checked and counted."""

    def __init__(self, index: int, token: str, work: Workload) -> None:
        self.index = index
        self.rng = random.Random(SEED + index)
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        self.work = work

    def record(self, kind: str, response: Any, target: tuple[str, str] | None = None) -> bool:
        """Count the outcome; True on success. Unexpected answers are failures."""
        code = response.status_code
        with self.work.lock:
            self.work.outcomes[(kind, code)] += 1
        if 200 <= code < 300:
            return True
        data = body(response)
        if code == 404 and target is not None:
            with self.work.lock:
                self.work.not_found.append(target)
            return False
        if code == 400 and isinstance(data, dict) and set(data) == {"system_ids"}:
            messages = data["system_ids"]
            if len(messages) == 1 and messages[0].startswith("Unknown system ids: "):
                missing = messages[0].removeprefix("Unknown system ids: ").rstrip(".")
                with self.work.lock:
                    self.work.unknown_systems.extend(missing.split(", "))
                return False
        with self.work.lock:
            self.work.failures.append(f"client {self.index} {kind}: {code} {data!r}")
        return False

    def create_incident(self, system_ids: list[str], *, shared: bool = True) -> str | None:
        response = self.api.post(
            INCIDENTS,
            {
                "title": f"Load incident {self.rng.randrange(10**6)}",
                "severity": self.rng.choice(SEVERITIES),
                "system_ids": system_ids,
            },
            format="json",
        )
        if not self.record("create", response):
            return None
        incident_id = str(body(response)["id"])
        if shared:
            self.work.remember(self.work.incidents, incident_id)
        return incident_id

    def write(self, kind: str) -> None:
        rng, work, api = self.rng, self.work, self.api
        if kind == "system_create":
            response = api.post(SYSTEMS, {"name": f"System {rng.randrange(10**6)}"}, format="json")
            if self.record(kind, response):
                work.remember(work.systems, str(body(response)["id"]))
            return
        incident_id = work.pick_incident(rng)
        if kind == "create" or incident_id is None:
            self.create_incident(work.pick_systems(rng))
            return
        target = ("incident", incident_id)
        path = f"{INCIDENTS}{incident_id}/"
        if kind == "update":
            patch: dict[str, Any] = {}
            while not patch:
                if rng.random() < 0.5:
                    patch["title"] = f"Renamed {rng.randrange(10**6)}"
                if rng.random() < 0.5:
                    patch["severity"] = rng.choice(SEVERITIES)
                if rng.random() < 0.5:
                    patch["system_ids"] = work.pick_systems(rng)
            self.record(kind, api.patch(path, patch, format="json"), target)
        elif kind == "add_update":
            payload = {"message": "Progress", "status_change": rng.choice((*STATUSES, None))}
            self.record(kind, api.post(f"{path}updates/", payload, format="json"), target)
        elif kind == "resolve":
            self.record(kind, api.post(f"{path}resolve/", {}, format="json"), target)
        elif kind == "delete":
            if self.record(kind, api.delete(path), target):
                work.forget(work.incidents, incident_id)
        else:  # pragma: no cover - MIX and write() must agree
            raise AssertionError(f"unknown write kind {kind!r}")

    def delete_a_linked_system(self) -> None:
        """Link a system from an incident of this client's own, then delete the system."""
        # Chosen from the seeded systems by client index, before any delete shifts the list,
        # so no two clients pick the same victim.
        victim = self.work.victims[self.index]
        anchor = self.create_incident([victim], shared=False)
        if anchor is None:
            return  # recorded as a failure
        with self.work.lock:
            self.work.anchors[anchor] = victim
        response = self.api.delete(f"{SYSTEMS}{victim}/")
        if self.record("system_delete", response, ("catalog-system", victim)):
            self.work.forget(self.work.systems, victim)
            with self.work.lock:
                self.work.deleted_systems.append(victim)

    def run(self, start: threading.Barrier) -> None:
        kinds = [kind for kind, _ in MIX]
        weights = [weight for _, weight in MIX]
        try:
            start.wait()
            for number in range(WRITES_PER_CLIENT):
                if self.index < SYSTEM_DELETES and number == WRITES_PER_CLIENT // 2:
                    self.delete_a_linked_system()
                else:
                    self.write(self.rng.choices(kinds, weights)[0])
        except BaseException:  # any crash (a 500 raises here) fails the test
            with self.work.lock:
                self.work.failures.append(f"client {self.index} crashed:\n{traceback.format_exc()}")
        finally:
            connection.close()


def run_workload(tokens: list[str], work: Workload) -> None:
    start = threading.Barrier(len(tokens))
    threads = [
        threading.Thread(target=Client(i, token, work).run, args=(start,), name=f"client-{i}")
        for i, token in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def expected_events(change: Change) -> list[str]:
    """The trigger events the incident, incident-update and catalog-system rules give for one
    change."""
    if change.kind == "incident":
        if change.prev is None:
            return ["incident.created"]
        if change.next is None:
            return []
        if change.next["status"] == "resolved" and change.prev["status"] != "resolved":
            return ["incident.resolved"]
        return ["incident.updated"]
    if change.kind == "catalog-system":
        if change.prev is None:
            return ["catalog.created"]
        return ["catalog.deleted"] if change.next is None else ["catalog.updated"]
    if change.kind == "incident-update":
        return []  # timeline updates derive no trigger events
    raise AssertionError(f"unexpected change of kind {change.kind!r}")


def changes_by_entity() -> dict[tuple[str, str], list[Change]]:
    log: dict[tuple[str, str], list[Change]] = defaultdict(list)
    for change in Change.objects.order_by("kind", "entity_id", "seq"):
        log[(change.kind, change.entity_id)].append(change)
    return log


def assert_contiguous(kind: str, entity_id: str, changes: list[Change]) -> None:
    label = f"{kind}:{entity_id}"
    assert [c.seq for c in changes] == list(range(1, len(changes) + 1)), label
    assert changes[0].prev is None, f"{label} does not start with a create"
    for before, after in itertools.pairwise(changes):
        assert before.next is not None, f"{label} #{before.seq}: a tombstone is followed"
        assert after.prev == before.next, f"{label} #{after.seq}: prev != next of #{before.seq}"
    sequence = EntitySequence.objects.get(kind=kind, entity_id=entity_id)
    assert sequence.last_seq == len(changes), label


@pytest.fixture
def no_enqueue(settings: Any) -> None:
    settings.CHECKSTACK_ENQUEUE = False


def test_concurrent_mixed_api_writes_leave_a_gap_free_log_with_every_outbox_row_done(
    no_enqueue: None,
) -> None:
    seeded = [
        catalog_services.create_system(name=f"Seed system {n}").pk for n in range(SEED_SYSTEMS)
    ]
    tokens = [manager_token(f"client-{i}") for i in range(CLIENTS)]
    work = Workload(incidents=[], systems=list(seeded), victims=seeded[:SYSTEM_DELETES])

    run_workload(tokens, work)

    assert work.failures == []
    succeeded = {kind for (kind, code), _ in work.outcomes.items() if 200 <= code < 300}
    assert succeeded == set(WRITE_KINDS), work.outcomes
    assert sum(work.outcomes.values()) == CLIENTS * WRITES_PER_CLIENT + SYSTEM_DELETES
    assert len(work.deleted_systems) == SYSTEM_DELETES

    sweep_inline()
    assert not Delivery.objects.exclude(status=DeliveryStatus.DONE).exists()
    assert not TriggerEvent.objects.filter(dispatched_at__isnull=True).exists()

    log = changes_by_entity()
    # Timeline updates are entities of their own ("incident-update"), logged beside them.
    assert {kind for kind, _ in log} == {"incident", "incident-update", "catalog-system"}
    queues = {
        kind: sorted(q.group for q in entity_registry.work_queues_for(kind))
        for kind in ("incident", "incident-update", "catalog-system")
    }
    assert queues["catalog-system"] == [CLEANUP_GROUP]
    events: dict[Any, list[str]] = defaultdict(list)
    for change_id, event in TriggerEvent.objects.values_list("change_id", "event"):
        events[change_id].append(event)
    deliveries: dict[Any, list[str]] = defaultdict(list)
    for change_id, group in Delivery.objects.values_list("change_id", "group"):
        deliveries[change_id].append(group)
    for (kind, entity_id), changes in log.items():
        assert_contiguous(kind, entity_id, changes)
        for change in changes:
            assert sorted(events[change.change_id]) == expected_events(change), change
            assert sorted(deliveries[change.change_id]) == queues[kind], change
    assert EntitySequence.objects.count() == len(log)

    # A 404 or an "unknown system" answer is only right for a target deleted meanwhile.
    tombstoned = {key for key, changes in log.items() if changes[-1].next is None}
    assert set(work.not_found) <= tombstoned
    assert {("catalog-system", s) for s in work.unknown_systems} <= tombstoned

    # Each deleted system was linked by an incident only its deleting client wrote to: the
    # cleanup queue unlinked it there (as the system actor), and no incident links it now.
    existing_systems = set(System.objects.values_list("pk", flat=True))
    assert not IncidentSystem.objects.exclude(system_id__in=existing_systems).exists()
    assert len(work.anchors) == SYSTEM_DELETES
    for incident_id, system_id in work.anchors.items():
        assert ("catalog-system", system_id) in tombstoned
        created, cleaned = log[("incident", incident_id)]
        assert created.next["systemIds"] == [system_id]
        assert (cleaned.delta, cleaned.actor) == ({"systemIds": []}, to_actor(None)), cleaned
    # Current state equals the last logged state, for every entity.
    for kind, handle in (("incident", incident_handle()), ("catalog-system", system_handle())):
        ids = [entity_id for k, entity_id in log if k == kind]
        current = {i: s.model_dump(mode="json") for i, s in handle.get_many(ids).items()}
        logged = {i: log[(kind, i)][-1].next for i in ids if log[(kind, i)][-1].next is not None}
        assert current == logged, kind
