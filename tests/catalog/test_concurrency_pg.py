"""Catalog writes under real concurrency on PostgreSQL: threads with their own connections."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from catalog import services
from catalog.entity import system_handle
from catalog.models import Group, System
from checkstack.entities.models import Change
from tests.threads import JOIN_TIMEOUT, Worker, join_all

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def sessions_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def wait_for_lock_waiters(count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while sessions_waiting_for_a_lock() < count:
        assert time.monotonic() < deadline, f"fewer than {count} sessions waited for a lock"
        time.sleep(0.02)


def test_concurrent_metadata_merges_keep_every_key() -> None:
    services.create_system(id="db", name="DB", metadata={"tier": 1})
    holding, release = threading.Event(), threading.Event()

    def hold_the_system(prev: Any) -> None:
        # Another writer of the system (here: one that ends up changing nothing) is mid-write.
        holding.set()
        release.wait(timeout=JOIN_TIMEOUT)

    holder = Worker(lambda: system_handle().mutate("db", hold_the_system), "holder")
    holder.start()
    assert holding.wait(timeout=JOIN_TIMEOUT)
    merges = [
        Worker(lambda key=key: services.update_system_metadata("db", {key: True}), key)
        for key in ("owner", "region")
    ]
    try:
        for merge in merges:
            merge.start()
        wait_for_lock_waiters(2)
    finally:
        release.set()
        join_all(holder, *merges)

    assert [w.error for w in (holder, *merges)] == [None, None, None]
    assert System.objects.get(pk="db").metadata == {"tier": 1, "owner": True, "region": True}
    last = Change.objects.filter(kind="catalog-system", entity_id="db").order_by("seq").last()
    assert last is not None and last.next is not None
    assert last.next["metadata"] == {"tier": 1, "owner": True, "region": True}


def test_a_system_deleted_while_a_group_references_it_leaves_no_membership() -> None:
    outcomes: list[str] = []
    for round_ in range(10):
        system_id = f"sys-{round_}"
        services.create_system(id=system_id, name=system_id)
        barrier = threading.Barrier(2)

        def create_group(
            system_id: str = system_id, round_: int = round_, barrier: Any = barrier
        ) -> Group:
            barrier.wait(timeout=JOIN_TIMEOUT)
            return services.create_group(id=f"group-{round_}", name="G", system_ids=[system_id])

        def delete_system(system_id: str = system_id, barrier: Any = barrier) -> None:
            barrier.wait(timeout=JOIN_TIMEOUT)
            services.delete_system(system_id)

        creator, deleter = Worker(create_group, "creator"), Worker(delete_system, "deleter")
        creator.start()
        deleter.start()
        join_all(creator, deleter)

        assert deleter.error is None, repr(deleter.error)
        if creator.error is None:
            outcomes.append("created")
            group_changes = Change.objects.filter(
                kind="catalog-group", entity_id=f"group-{round_}"
            ).order_by("seq")
            assert [c.next["systemIds"] for c in group_changes if c.next is not None] == [
                [system_id],
                [],
            ]
        else:
            outcomes.append("rejected")
            assert isinstance(creator.error, ValidationError), repr(creator.error)
            assert creator.error.message_dict == {
                "system_ids": [f"Unknown system ids: {system_id}."]
            }

    assert not Group.systems.through.objects.exists()
    assert Group.objects.count() == outcomes.count("created")
