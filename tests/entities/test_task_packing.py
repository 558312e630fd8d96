"""``checkstack.entities.outbox.pack_task`` and ``enqueue_tasks``: django-q2 task packages built
without ``async_task``, stored by the ORM broker with one INSERT, run in-process in sync mode."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signals import pre_enqueue
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from checkstack.entities import broker
from checkstack.entities.outbox import enqueue_tasks, pack_task, sign_package

DELIVER_TASK = "checkstack.entities.tasks.deliver"
DISPATCH_TASK = "checkstack.entities.tasks.dispatch_trigger_event"
RECORDING_TASK = f"{__name__}.record_argument"

recorded: list[Any] = []


def record_argument(arg: Any) -> None:
    """The task function of the sync-mode tests (run by django-q2's worker, in this process)."""
    recorded.append(arg)


class CollectingBroker:
    """What ``async_task`` needs of a broker: the packages it is given are kept, not sent."""

    list_key = "collecting"

    def __init__(self) -> None:
        self.packages: list[str] = []

    def enqueue(self, package: str) -> int:
        self.packages.append(package)
        return len(self.packages)


def async_task_package(func: str, arg: Any, task_name: str) -> dict[str, Any]:
    """The task django-q2's own ``async_task`` enqueues, decoded."""
    broker = CollectingBroker()
    async_task(func, arg, task_name=task_name, broker=broker)
    (package,) = broker.packages
    return SignedPackage.loads(package)  # type: ignore[no-any-return]


@pytest.fixture
def pre_enqueued() -> Iterator[list[dict[str, Any]]]:
    """Every task dict ``pre_enqueue`` is sent with; the receiver adds a ``group`` to it."""
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, task: dict[str, Any], **kwargs: Any) -> None:
        received.append(dict(task))
        task["group"] = "tagged-by-receiver"

    pre_enqueue.connect(receiver, weak=False, dispatch_uid="tests-task-packing")
    try:
        yield received
    finally:
        pre_enqueue.disconnect(dispatch_uid="tests-task-packing")


@pytest.fixture
def no_recorded_calls() -> Iterator[list[Any]]:
    recorded.clear()
    try:
        yield recorded
    finally:
        recorded.clear()


# -- pack_task ----------------------------------------------------------------------------------


def test_package_has_the_fields_async_task_gives_it() -> None:
    theirs = async_task_package(DELIVER_TASK, 42, task_name="deliver:42")

    task = SignedPackage.loads(pack_task(DELIVER_TASK, 42))

    assert isinstance(task, dict)
    assert set(task) == set(theirs)
    assert task["func"] == DELIVER_TASK
    assert task["args"] == (42,)
    assert task["kwargs"] == {}
    assert task["name"] == "deliver:42"
    assert re.fullmatch(r"[0-9a-f]{32}", task["id"])
    assert isinstance(task["started"], dt.datetime)
    assert task["started"].tzinfo is not None
    assert task["started"].utcoffset() is not None


def test_task_name_is_the_functions_last_dotted_part_and_the_argument() -> None:
    event_id = "6f1c0d5e-3f0e-4a9b-9d43-0c2b4f1e8a77"

    task = SignedPackage.loads(pack_task(DISPATCH_TASK, event_id))

    assert task["name"] == f"dispatch_trigger_event:{event_id}"
    assert task["args"] == (event_id,)


@pytest.mark.django_db
def test_a_name_longer_than_django_q2_stores_is_cut_and_its_result_can_be_saved() -> None:
    from django.utils import timezone
    from django_q.models import Task

    from checkstack.entities.outbox import DELIVER_CHANGE_TASK

    arg = f"6f1c0d5e-3f0e-4a9b-9d43-0c2b4f1e8a77:{'g' * 100}"  # a group of the longest name
    task = SignedPackage.loads(pack_task(DELIVER_CHANGE_TASK, arg))

    assert task["name"] == f"deliver_change:{arg}"[:100]
    assert task["args"] == (arg,)  # the argument itself is whole
    now = timezone.now()  # the result row the cluster's monitor saves (PostgreSQL: varchar(100))
    Task.objects.create(
        id=task["id"], name=task["name"], func=task["func"], started=now, stopped=now,
        success=True,
    )  # fmt: skip
    assert Task.objects.get(id=task["id"]).name == task["name"]


def test_every_package_gets_its_own_id() -> None:
    ids = {SignedPackage.loads(pack_task(DELIVER_TASK, 1))["id"] for _ in range(3)}

    assert len(ids) == 3


@pytest.mark.parametrize(
    ("cached", "ack_failures"),
    [
        pytest.param(False, False, id="neither"),
        pytest.param(60, False, id="cached"),
        pytest.param(False, True, id="ack-failures"),
        pytest.param(True, True, id="both"),
    ],
)
def test_cluster_options_are_carried_as_async_task_carries_them(
    monkeypatch: pytest.MonkeyPatch, cached: Any, ack_failures: bool
) -> None:
    monkeypatch.setattr(Conf, "CACHED", cached)
    monkeypatch.setattr(Conf, "ACK_FAILURES", ack_failures)
    theirs = async_task_package(DELIVER_TASK, 7, task_name="deliver:7")

    task = SignedPackage.loads(pack_task(DELIVER_TASK, 7))

    assert set(task) == set(theirs)
    assert task.get("cached") == theirs.get("cached") == (cached or None)
    assert task.get("ack_failure") == theirs.get("ack_failure") == (ack_failures or None)


def test_pre_enqueue_receivers_get_the_task_and_their_changes_are_packed(
    pre_enqueued: list[dict[str, Any]],
) -> None:
    task = SignedPackage.loads(pack_task(DELIVER_TASK, 5))

    (sent,) = pre_enqueued
    assert sent["id"] == task["id"]
    assert (sent["func"], sent["args"], sent["name"]) == (DELIVER_TASK, (5,), "deliver:5")
    assert sent["started"] == task["started"]
    assert "group" not in sent  # the receiver saw the task before its own change
    assert task["group"] == "tagged-by-receiver"


# -- enqueue_tasks ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_orm_broker_tasks_are_stored_with_one_insert_under_the_cluster_key() -> None:
    jobs: list[tuple[str, int | str]] = [(DELIVER_TASK, 1), (DELIVER_TASK, 2)]
    jobs.append((DISPATCH_TASK, "6f1c0d5e-3f0e-4a9b-9d43-0c2b4f1e8a77"))

    with CaptureQueriesContext(connections[Conf.ORM]) as captured:
        enqueue_tasks(jobs)

    assert len(captured.captured_queries) == 1
    sql = captured.captured_queries[0]["sql"].lstrip().upper()
    # with its NOTIFY wake-up in the same statement where the broker listens (PostgreSQL)
    notifies = broker.orm_notify_channel(Conf.CLUSTER_NAME) is not None
    assert sql.startswith("WITH Q AS (INSERT" if notifies else "INSERT"), sql
    assert ("PG_NOTIFY" in sql) is notifies
    rows = list(OrmQ.objects.order_by("id"))
    assert [row.key for row in rows] == [Conf.CLUSTER_NAME] * 3
    assert [(row.task["func"], row.task["args"]) for row in rows] == [
        (func, (arg,)) for func, arg in jobs
    ]
    assert all(row.lock is not None for row in rows)


@pytest.mark.django_db
def test_stored_tasks_are_what_the_orm_broker_hands_to_the_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Conf, "BULK", 10)  # the default hands out one task per dequeue
    enqueue_tasks([(DELIVER_TASK, 1), (DELIVER_TASK, 2)])

    dequeued = get_broker().dequeue()

    assert dequeued is not None
    tasks = [SignedPackage.loads(payload) for _pk, payload in dequeued]
    assert sorted(t["name"] for t in tasks) == ["deliver:1", "deliver:2"]


@pytest.mark.django_db
def test_no_jobs_store_nothing(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        enqueue_tasks([])

    assert not OrmQ.objects.exists()


@pytest.mark.django_db
def test_sync_mode_runs_the_tasks_in_this_process_and_stores_none(
    monkeypatch: pytest.MonkeyPatch, no_recorded_calls: list[Any]
) -> None:
    monkeypatch.setattr(Conf, "SYNC", True)

    enqueue_tasks([(RECORDING_TASK, 3), (RECORDING_TASK, "four")])

    assert no_recorded_calls == [3, "four"]
    assert not OrmQ.objects.exists()


def test_a_failing_store_is_logged_and_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[list[str]] = []

    def broken_store(alias: str, key: str, packages: list[str]) -> None:
        attempts.append(packages)
        raise ConnectionError("broker down")

    monkeypatch.setattr("checkstack.entities.outbox._store_orm_tasks", broken_store)
    with caplog.at_level(logging.ERROR, logger="checkstack.entities"):
        enqueue_tasks([(DELIVER_TASK, 1), (DELIVER_TASK, 2)])

    assert [len(packages) for packages in attempts] == [2]
    (logged,) = [r for r in caplog.records if r.name == "checkstack.entities"]
    assert logged.levelno == logging.ERROR
    assert "Could not enqueue" in logged.getMessage()
    assert logged.exc_info is not None and isinstance(logged.exc_info[1], ConnectionError)


@pytest.mark.parametrize(
    "task",
    [
        {"id": "0" * 32, "name": "deliver:1", "func": DELIVER_TASK, "args": (1,), "kwargs": {}},
        {
            "id": "f" * 32,
            "name": "dispatch_trigger_event:x",
            "func": DISPATCH_TASK,
            "args": ("3f2c9a4e-0000-4000-8000-000000000000",),
            "kwargs": {},
            "cached": True,
            "ack_failure": True,
            "started": dt.datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=dt.UTC),
        },
    ],
)
@pytest.mark.parametrize("secret", ["django-insecure-test-secret", b"bytes secret \xff"])
def test_packages_are_signed_exactly_as_django_q2_signs_them(
    task: dict[str, Any], secret: str | bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sign_package`` replaces ``SignedPackage.dumps`` for speed; it must give the same
    string, or a worker would reject the task's signature."""
    monkeypatch.setattr("time.time", lambda: 1_795_000_000.25)
    monkeypatch.setattr(Conf, "SECRET_KEY", secret)
    expected = SignedPackage.dumps(task)
    assert sign_package(task, secret, Conf.PREFIX) == expected
    assert SignedPackage.loads(expected) == task
    # and the salt (the cluster name) counts
    assert sign_package(task, secret, Conf.PREFIX + "-other") != expected


def test_pack_task_signs_like_signed_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.time", lambda: 1_795_000_000.0)
    package = pack_task(DELIVER_TASK, 7)
    assert package == SignedPackage.dumps(SignedPackage.loads(package))


def test_compressed_clusters_get_django_q2s_own_packing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Conf, "COMPRESSED", True)
    package = pack_task(DELIVER_TASK, "x" * 500)
    task = SignedPackage.loads(package)
    assert task["args"] == ("x" * 500,)
    assert package.startswith(".")  # compressed packages are marked so
