"""With the ORM broker a write inserts its own django-q2 tasks (one per delivery, one per
trigger event) in its transaction (``checkstack.entities.outbox``; on PostgreSQL in the statement
that logs the change): they, and on PostgreSQL the pusher's ``NOTIFY``, become visible at the
write's COMMIT and vanish with its rollback; a worker running them delivers and dispatches as
the after-COMMIT tasks do. With another broker, or in sync mode, the tasks are enqueued after
COMMIT."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from django.utils.module_loading import import_string
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from checkstack.entities import WorkQueue, broker, on_entity_changed
from checkstack.entities.handle import EntityHandle
from checkstack.entities.models import Delivery, DeliveryStatus, TriggerEvent
from checkstack.entities.outbox import DELIVER_CHANGE_TASK, DISPATCH_TASK
from tests.testapp.entity import WidgetState, create_widget
from tests.testapp.models import Widget

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


class Recorder:
    def __init__(self) -> None:
        self.handled: list[tuple[str, int]] = []

    def __call__(self, change: Any) -> None:
        self.handled.append((change.entity_id, change.seq))


@pytest.fixture(autouse=True)
def orm_broker(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """The default project's broker (django-q2's Conf is frozen at import: patch it)."""
    settings.CHECKSTACK_ENQUEUE = True
    monkeypatch.setattr(Conf, "ORM", "default")
    monkeypatch.setattr(Conf, "REDIS", {})
    monkeypatch.setattr(Conf, "BROKER_CLASS", broker.BROKER_CLASS)
    monkeypatch.setattr(Conf, "SYNC", False)


@pytest.fixture
def after_commit_jobs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """What the after-COMMIT enqueue was handed (nothing reaches a broker through it)."""
    jobs: list[tuple[str, Any]] = []
    monkeypatch.setattr("checkstack.entities.outbox.enqueue_tasks", jobs.extend)
    return jobs


@pytest.fixture
def other_connection() -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A second session, LISTENing on the queue's channel: what a pusher sees."""
    params = connection.get_connection_params()
    for name in ("context", "cursor_factory", "prepare_threshold"):
        params.pop(name, None)
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f'LISTEN "{broker.channel(Conf.CLUSTER_NAME)}"')
        yield conn


def queued_tasks() -> list[tuple[str, tuple[Any, ...]]]:
    payloads = OrmQ.objects.order_by("id").values_list("payload", flat=True)
    return [(t["func"], t["args"]) for t in map(SignedPackage.loads, payloads)]


def visible_tasks(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    ((count,),) = conn.execute(f"SELECT count(*) FROM {OrmQ._meta.db_table}").fetchall()
    return int(count)


@pytest.mark.postgres
def test_the_tasks_of_a_write_commit_with_it_and_wake_the_pusher_at_commit(
    widgets: EntityHandle[WidgetState],
    other_connection: psycopg.Connection[tuple[Any, ...]],
    after_commit_jobs: list[tuple[str, Any]],
) -> None:
    on_entity_changed("widget", Recorder(), WorkQueue("g1"))
    on_entity_changed("widget", Recorder(), WorkQueue("g2"))

    with transaction.atomic():
        create_widget(widgets, "w1", status="open")
        widgets.mutate("w1", lambda prev: Widget.objects.filter(id="w1").update(status="closed"))
        assert OrmQ.objects.count() == 4 + 2  # in this transaction...
        assert visible_tasks(other_connection) == 0  # ...and nowhere else before COMMIT
        assert list(other_connection.notifies(timeout=0.2)) == []
    notes = list(other_connection.notifies(timeout=2, stop_after=1))

    assert [n.channel for n in notes] == [broker.channel(Conf.CLUSTER_NAME)]
    assert visible_tasks(other_connection) == 6
    deliveries = sorted(
        f"{change_id}:{group}"
        for change_id, group in Delivery.objects.values_list("change_id", "group")
    )
    events = sorted(str(e) for e in TriggerEvent.objects.values_list("id", flat=True))
    tasks = queued_tasks()
    assert sorted(args[0] for func, args in tasks if func == DELIVER_CHANGE_TASK) == deliveries
    assert sorted(args[0] for func, args in tasks if func == DISPATCH_TASK) == events
    assert len(tasks) == 6
    assert after_commit_jobs == []  # not enqueued a second time


@pytest.mark.postgres
def test_a_rolled_back_write_leaves_no_task_and_sends_no_wake_up(
    widgets: EntityHandle[WidgetState],
    other_connection: psycopg.Connection[tuple[Any, ...]],
    after_commit_jobs: list[tuple[str, Any]],
) -> None:
    on_entity_changed("widget", Recorder(), WorkQueue("g"))

    with pytest.raises(Rollback), transaction.atomic():
        create_widget(widgets, "w1", status="open")
        assert OrmQ.objects.count() == 2
        raise Rollback

    assert list(other_connection.notifies(timeout=0.5)) == []
    assert not OrmQ.objects.exists()
    assert not Delivery.objects.exists()
    assert after_commit_jobs == []


def test_a_writes_tasks_are_inserted_in_its_transaction_and_roll_back_with_it(
    widgets: EntityHandle[WidgetState], after_commit_jobs: list[tuple[str, Any]]
) -> None:
    on_entity_changed("widget", Recorder(), WorkQueue("g"))

    with pytest.raises(Rollback), transaction.atomic():
        create_widget(widgets, "w1", status="open")
        assert OrmQ.objects.count() == 2  # a delivery and a trigger event: before COMMIT
        raise Rollback
    assert not OrmQ.objects.exists()
    create_widget(widgets, "w2", status="open")

    assert [func for func, _ in queued_tasks()] == [DELIVER_CHANGE_TASK, DISPATCH_TASK]
    assert after_commit_jobs == []


def test_a_worker_running_the_tasks_delivers_the_change_and_dispatches_its_event(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Recorder()
    on_entity_changed("widget", handler, WorkQueue("g"))
    create_widget(widgets, "w1", status="open")
    tasks = queued_tasks()

    results = [import_string(func)(*args) for func, args in tasks]

    assert [func for func, _ in tasks] == [DELIVER_CHANGE_TASK, DISPATCH_TASK]
    # The delivery's task ran it and its drain dispatched the event; the event's own task then
    # found it dispatched: the same as with tasks enqueued after COMMIT.
    assert results == ["done", False]
    assert handler.handled == [("w1", 1)]
    assert Delivery.objects.get().status == DeliveryStatus.DONE
    assert TriggerEvent.objects.get().dispatched_at is not None
    assert import_string(tasks[0][0])(*tasks[0][1]) == "skipped"  # a second run does nothing


@pytest.mark.parametrize("other", ["sync", "redis"])
def test_with_another_broker_or_in_sync_mode_the_tasks_are_enqueued_after_commit(
    widgets: EntityHandle[WidgetState],
    after_commit_jobs: list[tuple[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    other: str,
) -> None:
    if other == "sync":
        monkeypatch.setattr(Conf, "SYNC", True)
    else:
        monkeypatch.setattr(Conf, "ORM", None)
        monkeypatch.setattr(Conf, "BROKER_CLASS", None)
        monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:1/0")  # never reached
    on_entity_changed("widget", Recorder(), WorkQueue("g"))

    create_widget(widgets, "w1", status="open")

    assert not OrmQ.objects.exists()
    assert after_commit_jobs == [
        ("checkstack.entities.tasks.deliver", Delivery.objects.get().pk),
        (DISPATCH_TASK, str(TriggerEvent.objects.get().pk)),
    ]
