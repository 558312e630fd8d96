"""``bench_entities``' peers: the entity write a user would build instead, with popular libraries.

- **p1** ``save()`` under a row lock, django-simple-history's ``post_save`` history row, and
  ``transaction.on_commit(async_task)``;
- **p2** ``save()`` under a row lock, a hand-made outbox row (JSON payload) in the same
  transaction, and ``on_commit(async_task)`` of that row (the outbox makes it durable, the task
  delivers it soon, as our outbox does);
- **p3** (PostgreSQL) ``save()`` under a row lock, django-pghistory's ``AFTER UPDATE`` trigger
  writing the event row, and ``on_commit(async_task)``.

Each peer writes its own incident-shaped table (the fields of ``bench_entities``' items). The
tables live in an isolated app registry (``peer_apps``) and are created and dropped by the run.
p1 and p3 need bench/requirements.txt; without it ``available_peers`` says why they are left
out, and the product never imports those libraries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from django.db import connection, models, transaction
from django.utils import timezone

from bench.batches import chunks
from bench.queue import orm_queue

from .tables import PeerItem

REQUIREMENTS = "bench/requirements.txt"
# The peers' django-q2 task (never run by the benchmark: its queued tasks are deleted).
PEER_TASK = "bench.peers.item_changed"
SEVERITIES = ("major", "critical")


def item_changed(key: str | int) -> None:
    """What a peer's task would do with the row it names; a no-op for the benchmark."""


class Peer(Protocol):
    """One peer variant: its tables, and the writer ``bench_entities`` times."""

    key: str
    label: str

    @property
    def models(self) -> tuple[type[models.Model], ...]:
        """Its tables, the item table first, in creation order."""

    @property
    def item_model(self) -> type[PeerItem]: ...

    def install(self) -> None: ...
    def uninstall(self) -> None: ...
    def write(self, item_id: str) -> None: ...
    def logged(self) -> dict[str, int]: ...


def enqueue_after_commit(arg: str | int) -> None:
    """``transaction.on_commit(async_task)``: django-q2's own enqueue, as a user would call it."""
    from django_q.tasks import async_task

    transaction.on_commit(partial(async_task, PEER_TASK, arg), robust=True)


def save_other_severity(model: type[PeerItem], item_id: str) -> tuple[PeerItem, str]:
    """The peers' domain write: lock the row, flip its severity, ``save()``; returns the row
    and its previous severity."""
    item = model.objects.select_for_update().get(pk=item_id)
    previous = item.severity
    item.severity = SEVERITIES[1] if previous == SEVERITIES[0] else SEVERITIES[0]
    item.updated_at = timezone.now()
    item.save()
    return item, previous


@dataclasses.dataclass
class PeerWriter:
    """``bench_entities``' write callable for a peer: write ``i`` goes to item ``i mod n``."""

    peer: Peer
    item_ids: list[str]

    def __call__(self, i: int) -> None:
        self.peer.write(self.item_ids[i % len(self.item_ids)])


def available_peers(vendor: str) -> tuple[list[Peer], dict[str, str]]:
    """The peers this run can measure, and why each of the others is left out."""
    from .outbox import OutboxPeer

    peers: list[Peer] = []
    skipped: dict[str, str] = {}
    try:
        from .simple_history_peer import SimpleHistoryPeer
    except ImportError as error:
        skipped["p1"] = (
            f"django-simple-history is not installed ({error}): pip install -r {REQUIREMENTS}"
        )
    else:
        peers.append(SimpleHistoryPeer())
    peers.append(OutboxPeer())
    if vendor != "postgresql":
        skipped["p3"] = "django-pghistory works with PostgreSQL triggers: PostgreSQL only"
    else:
        try:
            from .pghistory_peer import PgHistoryPeer
        except ImportError as error:
            skipped["p3"] = (
                f"django-pghistory is not installed ({error}): pip install -r {REQUIREMENTS}"
            )
        else:
            peers.append(PgHistoryPeer())
    peers.sort(key=lambda peer: peer.key)
    return peers, skipped


def seed_peer_items(model: type[models.Model], prefix: str, count: int) -> list[str]:
    """``count`` open incident-shaped rows of ``model`` (a peer's table, or ``BenchItem``)."""
    now = timezone.now()
    ids = [f"{prefix}-{n:05d}" for n in range(count)]
    model._default_manager.bulk_create(
        model(
            id=item_id,
            status="open",
            severity=SEVERITIES[0],
            title=f"Bench item {item_id}: database latency above threshold",
            updated_at=now,
        )
        for item_id in ids
    )
    return ids


def create_peer_tables(peers: list[Peer]) -> None:
    with connection.schema_editor() as editor:
        for peer in peers:
            for model in peer.models:
                editor.create_model(model)
    for peer in peers:
        peer.install()


def drop_peer_tables(peers: list[Peer]) -> None:
    """Drop what ``create_peer_tables`` made (also what a crashed run left)."""
    tables = set(connection.introspection.table_names())
    for peer in peers:
        if peer.models[0]._meta.db_table in tables:
            peer.uninstall()
    leftovers = [
        model for peer in peers for model in reversed(peer.models) if model._meta.db_table in tables
    ]
    if leftovers:
        with connection.schema_editor() as editor:
            for model in leftovers:
                editor.delete_model(model)


def purge_peer_tasks(after_id: int = 0) -> int:
    """Delete the queued ``PEER_TASK`` tasks (ORM broker) queued after ``after_id``."""
    queue = orm_queue()
    if queue is None:
        return 0
    ours = [
        row.pk
        for row in queue.objects.filter(pk__gt=after_id).only("pk", "payload")
        if row.task.get("func") == PEER_TASK
    ]
    return sum(queue.objects.filter(pk__in=part).delete()[0] for part in chunks(ours))


def count_rows(model: type[models.Model]) -> Callable[[], int]:
    def count() -> int:
        return model._default_manager.count()

    return count


def as_logged(**counts: Callable[[], int]) -> dict[str, Any]:
    return {name: count() for name, count in counts.items()}
