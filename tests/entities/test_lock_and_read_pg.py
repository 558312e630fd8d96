"""The prev read folded into the entity lock statement (PostgreSQL, ``LinkedRowsRead`` kinds).

``lock_and_read`` reads the entity with the statement's snapshot, which is taken before the
statement waits for the entity lock. These tests make a second writer wait behind a first one
for real (two threads, two connections) and check that the second still sees the first's
committed state as its ``prev``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import services as catalog
from checkstack.entities.models import Change
from checkstack.entities.registry import get_handle
from incidents import services
from incidents.entity import IncidentState
from incidents.models import Incident
from tests.threads import JOIN_TIMEOUT, Worker, join_all

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def create_incident() -> Incident:
    catalog.create_system(id="db", name="Database")
    return services.create_incident(title="Disk full", system_ids=["db"], severity="minor")


def set_severity(incident_id: str, severity: str) -> None:
    Incident.objects.filter(pk=incident_id).update(severity=severity)


def wait_until_blocked_on_a_lock(pids: set[int]) -> None:
    """Wait (bounded) until one of the backends ``pids`` waits for a lock."""
    deadline = time.monotonic() + JOIN_TIMEOUT
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE pid = ANY(%s) AND wait_event_type = 'Lock'",
                [list(pids)],
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise TimeoutError("the second writer never waited for the entity lock")


def test_a_writer_that_waited_for_the_lock_sees_the_committed_state_as_prev() -> None:
    incident = create_incident()
    handle = get_handle("incident")
    first_applied, release_first = threading.Event(), threading.Event()
    second_pid: set[int] = set()
    seen_by_second: list[IncidentState | None] = []

    def first() -> None:
        def apply(prev: IncidentState | None) -> None:
            set_severity(incident.pk, "critical")
            first_applied.set()
            assert release_first.wait(JOIN_TIMEOUT)  # hold the entity lock until released

        handle.mutate(incident.pk, apply)

    def second() -> None:
        assert first_applied.wait(JOIN_TIMEOUT)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            second_pid.add(cursor.fetchone()[0])

        def apply(prev: IncidentState | None) -> None:
            seen_by_second.append(prev)
            set_severity(incident.pk, "major")

        handle.mutate(incident.pk, apply)

    workers = [Worker(first, "first"), Worker(second, "second")]
    for worker in workers:
        worker.start()
    try:
        assert first_applied.wait(JOIN_TIMEOUT)
        deadline = time.monotonic() + JOIN_TIMEOUT
        while not second_pid and time.monotonic() < deadline:
            time.sleep(0.005)
        wait_until_blocked_on_a_lock(second_pid)
    finally:
        release_first.set()
        join_all(*workers)
    assert [w.error for w in workers] == [None, None]

    # The second writer's statement started before the first committed "critical", yet its
    # prev is the committed state, not its snapshot's "minor".
    assert [s.severity if s else None for s in seen_by_second] == ["critical"]
    changes = list(Change.objects.filter(kind="incident", entity_id=incident.pk).order_by("seq"))
    assert [c.seq for c in changes] == [1, 2, 3]
    assert [(c.prev or {}).get("severity") for c in changes] == [None, "minor", "critical"]
    assert [c.next["severity"] for c in changes] == ["minor", "critical", "major"]
    assert changes[2].prev == changes[1].next


def test_the_prev_read_is_part_of_the_lock_statement() -> None:
    incident = create_incident()
    handle = get_handle("incident")
    seen: list[IncidentState | None] = []

    def apply(prev: IncidentState | None) -> None:
        seen.append(prev)
        set_severity(incident.pk, "major")

    with CaptureQueriesContext(connection) as queries:
        handle.mutate(incident.pk, apply)

    statements = [q["sql"] for q in queries.captured_queries]
    update = next(n for n, sql in enumerate(statements) if sql.startswith("UPDATE"))
    before: list[Any] = statements[:update]
    reads_before = [sql for sql in before if "incidents_incident" in sql]
    # one statement before the domain UPDATE locks the entity and reads it
    assert len(reads_before) == 1
    assert "entities_entitysequence" in reads_before[0]
    assert [s.severity if s else None for s in seen] == ["minor"]
    assert Change.objects.filter(kind="incident", entity_id=incident.pk).count() == 2
