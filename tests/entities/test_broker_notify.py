"""The ORM broker woken by PostgreSQL ``NOTIFY`` (``checkstack.entities.broker``): a task insert
notifies the cluster's channel at COMMIT, and a real qcluster whose poll interval is huge still
runs a task a fraction of a second after it was committed. On SQLite the broker polls."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection, transaction
from django_q.conf import Conf
from django_q.models import OrmQ, Task

from checkstack.entities import broker
from checkstack.entities.outbox import enqueue_tasks
from tests.qcluster import cluster_started, running_qcluster, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

HUGE_POLL = "60"  # seconds: polling alone would not find the task within the test


@pytest.fixture
def notifying_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Conf, "ORM", "default")
    monkeypatch.setattr(Conf, "REDIS", {})
    monkeypatch.setattr(Conf, "BROKER_CLASS", broker.BROKER_CLASS)


def listener() -> psycopg.Connection[tuple[object, ...]]:
    params = connection.get_connection_params()
    for name in ("context", "cursor_factory", "prepare_threshold"):
        params.pop(name, None)
    conn = psycopg.connect(**params, autocommit=True)
    conn.execute(f'LISTEN "{broker.channel(Conf.CLUSTER_NAME)}"')
    return conn


@pytest.mark.postgres
@pytest.mark.usefixtures("notifying_broker")
def test_a_task_insert_notifies_the_queue_channel_at_commit() -> None:
    with listener() as conn:
        with transaction.atomic():
            enqueue_tasks([("math.floor", 1), ("math.floor", 2)])
            assert list(conn.notifies(timeout=0.2)) == []  # not before COMMIT
        notes = list(conn.notifies(timeout=2, stop_after=1))

    assert [n.channel for n in notes] == [broker.channel(Conf.CLUSTER_NAME)]
    assert OrmQ.objects.count() == 2  # one insert for both, one notification


@pytest.mark.postgres
@pytest.mark.usefixtures("notifying_broker")
def test_a_task_committed_between_the_look_and_the_wait_still_ends_the_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pusher = broker.NotifyingORM()
    monkeypatch.setattr(Conf, "POLL", 0.01)
    try:
        assert pusher.dequeue() is None  # empty: LISTEN, look, a short wait
        enqueue_tasks([("math.floor", 1)])  # after the look, before the next wait
        started = time.monotonic()
        pusher._wait(pusher._listening(), 30.0)
        waited = time.monotonic() - started
        tasks = pusher.dequeue()
    finally:
        pusher.close_listener()

    assert waited < 1.0
    assert tasks is not None and len(tasks) == 1


def test_on_sqlite_or_without_the_broker_class_the_insert_notifies_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Conf, "ORM", "default")
    monkeypatch.setattr(Conf, "BROKER_CLASS", None)
    assert broker.orm_notify_channel(Conf.CLUSTER_NAME) is None
    assert broker.is_orm_broker()
    monkeypatch.setattr(Conf, "BROKER_CLASS", broker.BROKER_CLASS)
    assert broker.is_orm_broker()
    expected = broker.channel(Conf.CLUSTER_NAME) if connection.vendor == "postgresql" else None
    assert broker.orm_notify_channel(Conf.CLUSTER_NAME) == expected
    if connection.vendor != "postgresql":
        pusher = broker.NotifyingORM()
        monkeypatch.setattr(Conf, "POLL", 0.01)
        assert pusher.dequeue() is None  # an empty queue: a poll's sleep, no listener
        assert pusher._listener is None


@pytest.mark.postgres
@pytest.mark.usefixtures("notifying_broker")
def test_a_qcluster_with_a_huge_poll_runs_a_committed_task_at_once(tmp_path: Path) -> None:
    with running_qcluster(tmp_path / "qcluster.log", CHECKSTACK_Q_POLL=HUGE_POLL) as cluster:
        assert wait_for(lambda: cluster_started(cluster), timeout=30)
        # The first task: the pusher's first look may have come before the LISTEN.
        enqueue_tasks([("math.floor", 1)])
        assert wait_for(lambda: Task.objects.filter(name="floor:1").exists(), timeout=70)
        latencies = []
        for n in range(2, 7):
            time.sleep(0.3)  # the pusher is back in its (60 s) wait
            started = time.monotonic()
            enqueue_tasks([("math.floor", n)])
            assert wait_for(lambda n=n: Task.objects.filter(name=f"floor:{n}").exists(), 5), (
                tmp_path / "qcluster.log"
            ).read_text()[-3000:]
            latencies.append(time.monotonic() - started)

    # the task result is saved by the cluster's monitor, one step after the worker
    assert max(latencies) < 1.0, latencies
