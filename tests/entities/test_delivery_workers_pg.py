"""Durable delivery with real worker processes on PostgreSQL: exactly once, order, crashes.

Every test commits for real (``transaction=True``). Workers are forked processes that close the
inherited connections and run what a django-q2 task loop runs (``due_deliveries`` and
``deliver``, or the drain that follows each task's own row); they report through their exit
code and leave with ``os._exit``. The last test starts a real ``manage.py qcluster`` against
the test database, once on each django-q2 broker (ORM and Redis: the ``broker`` fixture).
"""

from __future__ import annotations

import functools
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import IntegrityError, connection, transaction

from checkstack.entities import EntityChange, WorkQueue, on_entity_changed
from checkstack.entities import delivery as delivery_service
from checkstack.entities.handle import EntityHandle
from checkstack.entities.models import Delivery, DeliveryStatus, TriggerEvent
from tests.processes import JOIN_TIMEOUT, backend_gone, fork_workers, join_all
from tests.qcluster import Broker, qcluster_environment, stop, wait_for
from tests.testapp.entity import WidgetState, create_widget
from tests.testapp.models import Record, Widget
from tests.testapp.workers import QCLUSTER_GROUP, QCLUSTER_SUBSCRIBER_ENV, subscribe_change_recorder

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DRAIN_TIMEOUT = 30.0
BASE_DIR = Path(django_settings.BASE_DIR)

# What handlers do in the forked children; set by a test before forking.
handler_config: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def no_enqueue(settings: Any) -> None:
    """Workers in these tests are the forked processes, not a django-q2 cluster."""
    settings.CHECKSTACK_ENQUEUE = False


@pytest.fixture(autouse=True)
def clean_handler_config() -> Iterator[None]:
    handler_config.clear()
    yield
    handler_config.clear()


def set_note(handle: EntityHandle[WidgetState], widget_id: str, note: str) -> None:
    handle.mutate(
        widget_id, lambda prev: Widget.objects.filter(id=widget_id).update(secret_note=note)
    )


def widget_with_changes(handle: EntityHandle[WidgetState], widget_id: str, changes: int) -> None:
    """Create ``widget_id`` (seq 1), then change its note until it has ``changes`` changes."""
    create_widget(handle, widget_id, status="open")
    for n in range(2, changes + 1):
        set_note(handle, widget_id, f"note {n}")


def outbox_pending() -> bool:
    return (
        Delivery.objects.filter(status=DeliveryStatus.PENDING).exists()
        or TriggerEvent.objects.filter(dispatched_at__isnull=True).exists()
    )


def work_like_a_task_loop(
    delivery_ids: list[int], event_ids: list[uuid.UUID], seed: int, deadline: float
) -> None:
    """Run the task of every row (shuffled: others hold some of them), then sweep until done."""
    jobs: list[Callable[[], object]] = [
        functools.partial(delivery_service.deliver, d) for d in delivery_ids
    ] + [functools.partial(delivery_service.dispatch_trigger_event, e) for e in event_ids]
    random.Random(seed).shuffle(jobs)
    for n, job in enumerate(jobs):
        job()
        if n % 10 == 0:
            for due_id in delivery_service.due_deliveries(grace=0, limit=20):
                delivery_service.deliver(due_id)
    while outbox_pending():
        if time.monotonic() > deadline:
            raise TimeoutError("outbox rows still pending")
        for due_id in delivery_service.due_deliveries(grace=0, limit=50):
            delivery_service.deliver(due_id)
        for event_id in delivery_service.due_trigger_events(grace=0, limit=50):
            delivery_service.dispatch_trigger_event(event_id)


def run_workers(works: list[Callable[[], object]]) -> None:
    codes = join_all(fork_workers(works))
    assert codes == [0] * len(works), f"worker exit codes: {codes}"


# -- exactly once -----------------------------------------------------------------------------


def insert_record_keyed_by_change(change: EntityChange) -> None:
    """Insert the change's Record; an IntegrityError (a second run) is noted in a file."""
    try:
        with transaction.atomic():
            Record.objects.create(key=str(change.change_id))
    except IntegrityError:
        with open(handler_config["integrity_errors"], "a") as errors:
            errors.write(f"{os.getpid()} {change.change_id}\n")
        raise


def append_dispatched_event(event: TriggerEvent) -> None:
    with open(handler_config["dispatched"], "a") as dispatched:
        dispatched.write(f"{event.pk}\n")


def test_two_worker_processes_deliver_200_changes_exactly_once(
    widgets: EntityHandle[WidgetState], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    integrity_errors = tmp_path / "integrity-errors.txt"
    dispatched = tmp_path / "dispatched.txt"
    for path in (integrity_errors, dispatched):
        path.touch()
    handler_config.update(integrity_errors=str(integrity_errors), dispatched=str(dispatched))
    monkeypatch.setattr(
        "checkstack.entities.registry._dispatch_trigger_event", append_dispatched_event
    )
    on_entity_changed("widget", insert_record_keyed_by_change, WorkQueue("exactly-once"))
    for n in range(20):
        widget_with_changes(widgets, f"w{n}", 10)
    delivery_ids = list(Delivery.objects.values_list("pk", flat=True))
    event_ids = list(TriggerEvent.objects.values_list("pk", flat=True))
    assert (len(delivery_ids), len(event_ids)) == (200, 200)
    deadline = time.monotonic() + DRAIN_TIMEOUT

    codes = join_all(
        fork_workers(
            [
                functools.partial(work_like_a_task_loop, delivery_ids, event_ids, seed, deadline)
                for seed in (1, 2)
            ]
        )
    )

    assert integrity_errors.read_text() == "", "a handler ran twice for one change"
    assert codes == [0, 0]
    assert Record.objects.count() == 200
    assert set(Record.objects.values_list("key", flat=True)) == {
        str(c) for c in Delivery.objects.values_list("change_id", flat=True)
    }
    assert set(Delivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.DONE, 1)}
    dispatched_ids = dispatched.read_text().split()
    assert sorted(dispatched_ids) == sorted(str(e) for e in event_ids)
    assert not TriggerEvent.objects.filter(dispatched_at__isnull=True).exists()


# -- a worker killed mid-handler --------------------------------------------------------------


def slow_handler_in_child(change: EntityChange) -> None:
    """Insert the change's Record; in the child, also announce itself and hang."""
    Record.objects.create(key=str(change.change_id))
    marker = handler_config.get("marker")
    if marker:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (backend,) = cursor.fetchone()
        Path(marker).write_text(str(backend))
        time.sleep(30)


def test_worker_killed_mid_handler_rolls_back_and_the_delivery_completes_once_later(
    widgets: EntityHandle[WidgetState], tmp_path: Path
) -> None:
    on_entity_changed("widget", slow_handler_in_child, WorkQueue("killable"))
    create_widget(widgets, "w1", status="open")
    (delivery,) = Delivery.objects.all()
    marker = tmp_path / "handler-started"
    handler_config["marker"] = str(marker)
    (child,) = fork_workers([lambda: delivery_service.deliver(delivery.pk)])
    handler_config.pop("marker")  # the parent's handler is fast
    try:
        assert wait_for(lambda: marker.exists() and marker.read_text() != ""), "handler not started"
        backend = int(marker.read_text())
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join(timeout=JOIN_TIMEOUT)
    finally:
        join_all([child])
    assert child.exitcode == -signal.SIGKILL
    assert wait_for(lambda: backend_gone(backend)), "the killed worker's session is still open"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert not Record.objects.exists()
    assert delivery.pk in delivery_service.due_deliveries(grace=0, limit=10)  # for the sweeper

    assert delivery_service.deliver(delivery.pk) is delivery_service.Outcome.DONE

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DONE, 1)
    assert list(Record.objects.values_list("key", flat=True)) == [str(delivery.change_id)]


# -- per-entity order -------------------------------------------------------------------------


def record_seq(change: EntityChange) -> None:
    """Record the change's seq; the autoincrement id keeps the order of handling."""
    Record.objects.create(key=f"{change.entity_id}:{change.seq}")


def test_three_worker_processes_deliver_50_changes_of_one_entity_in_seq_order(
    widgets: EntityHandle[WidgetState],
) -> None:
    on_entity_changed("widget", record_seq, WorkQueue("ordered"))
    widget_with_changes(widgets, "w1", 50)
    delivery_ids = list(Delivery.objects.order_by("seq").values_list("pk", flat=True))
    assert len(delivery_ids) == 50
    deadline = time.monotonic() + DRAIN_TIMEOUT

    run_workers(
        [
            functools.partial(work_like_a_task_loop, delivery_ids, [], seed, deadline)
            for seed in (11, 12, 13)
        ]
    )

    handled = list(Record.objects.order_by("pk").values_list("key", flat=True))
    assert handled == [f"w1:{seq}" for seq in range(1, 51)]
    assert set(Delivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.DONE, 1)}


def record_seq_failing_once(change: EntityChange) -> None:
    """Record the change's seq; the changes named in ``handler_config["fail_once"]`` raise on
    their first attempt, whichever process makes it (an exclusive marker file per change)."""
    key = f"{change.entity_id}:{change.seq}"
    if key in handler_config["fail_once"] and first_claim(Path(handler_config["markers"]) / key):
        raise RuntimeError(f"first attempt of {key} fails")
    Record.objects.create(key=key)


def first_claim(marker: Path) -> bool:
    """True for the one process that creates ``marker`` (an exclusive create)."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def drain_until_delivered(deadline: float) -> None:
    """What a django-q2 worker's tasks do after their own row: drain, again and again."""
    while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("deliveries still pending")
        delivery_service.drain(seconds=1.0, batch=7)


def test_three_draining_workers_keep_each_entitys_order_and_run_each_change_once(
    widgets: EntityHandle[WidgetState], settings: Any, tmp_path: Path
) -> None:
    settings.CHECKSTACK_DELIVERY_RETRY_BASE = 0  # a failed delivery is due again at once
    handler_config.update(fail_once={"w2:3", "w5:1", "w5:9"}, markers=str(tmp_path))
    on_entity_changed("widget", record_seq_failing_once, WorkQueue("drained", max_attempts=3))
    for n in range(8):
        widget_with_changes(widgets, f"w{n}", 12)
    assert Delivery.objects.count() == 96
    deadline = time.monotonic() + DRAIN_TIMEOUT

    run_workers([functools.partial(drain_until_delivered, deadline) for _ in range(3)])

    handled = list(Record.objects.order_by("pk").values_list("key", flat=True))
    assert len(handled) == len(set(handled)) == 96  # each change handled once
    for n in range(8):  # batches of 7 split every line; the order within each line holds
        assert [k for k in handled if k.startswith(f"w{n}:")] == [
            f"w{n}:{seq}" for seq in range(1, 13)
        ]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DONE}
    retried = {
        f"{e}:{s}" for e, s in Delivery.objects.filter(attempts=2).values_list("entity_id", "seq")
    }
    assert retried == {"w2:3", "w5:1", "w5:9"}


# -- a real qcluster --------------------------------------------------------------------------


def test_a_real_qcluster_delivers_changes_enqueued_after_commit(
    widgets: EntityHandle[WidgetState], settings: Any, tmp_path: Path, broker: Broker
) -> None:
    settings.CHECKSTACK_ENQUEUE = True
    subscribe_change_recorder()
    log = (tmp_path / "qcluster.log").open("wb")
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=BASE_DIR,
        env=qcluster_environment(broker, **{QCLUSTER_SUBSCRIBER_ENV: "1"}),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as a whole
    )
    try:
        for n in range(20):
            create_widget(widgets, f"q{n}", status="open")
        deliveries = Delivery.objects.filter(group=QCLUSTER_GROUP)
        assert deliveries.count() == 20
        wait_for(lambda: cluster.poll() is not None or not outbox_pending(), timeout=60)
        exit_code = cluster.poll()
    finally:
        stop(cluster)
        log.close()
    output = (tmp_path / "qcluster.log").read_text(errors="replace")[-4000:]
    assert exit_code is None, f"qcluster exited with {exit_code}:\n{output}"
    unfinished = list(
        Delivery.objects.exclude(status=DeliveryStatus.DONE).values_list(
            "pk", "status", "attempts", "last_error"
        )
    )
    assert not outbox_pending(), f"still pending: {unfinished}; qcluster output:\n{output}"
    assert set(deliveries.values_list("status", "attempts")) == {(DeliveryStatus.DONE, 1)}
    assert set(Record.objects.values_list("key", flat=True)) == {
        str(c) for c in deliveries.values_list("change_id", flat=True)
    }
