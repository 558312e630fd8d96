"""Concurrency of the entity write protocol on PostgreSQL: real threads, processes and locks.

Every test commits for real (``transaction=True``) so that separate connections see each
other's rows and wait on each other's locks. Threads get their own Django connection; forked
processes open their own after closing the inherited ones.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import multiprocessing
import os
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from multiprocessing.synchronize import Barrier as ProcessBarrier

import pytest
from django.db import connection, connections, transaction
from django.test import override_settings

from checkstack.entities import advisory_lock
from checkstack.entities.handle import EntityHandle
from checkstack.entities.models import TriggerEvent
from checkstack.errors import LockTimeout
from tests.testapp.entity import WidgetState, create_widget
from tests.testapp.models import Slot, Widget, WidgetTag

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SEVERITIES = ("minor", "major", "critical")
JOIN_TIMEOUT = 30.0
HOLD_TIMEOUT = 10.0  # a holder gives up its lock by itself after this, if never released


class Worker(threading.Thread):
    """Runs ``work`` on the thread's own database connection and keeps what it raised."""

    def __init__(self, work: Callable[[], object], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.work = work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()


@contextlib.contextmanager
def running(*workers: Worker, release: tuple[threading.Event, ...] = ()) -> Iterator[None]:
    """Start ``workers``; on the way out (also on failure) set ``release`` and join them all."""
    try:
        for worker in workers:
            worker.start()
        yield
    finally:
        for event in release:
            event.set()
        for worker in workers:
            if worker.ident is not None:  # started
                worker.join(timeout=JOIN_TIMEOUT)
    still_running = [w.name for w in workers if w.is_alive()]
    assert not still_running, f"threads did not finish: {still_running}"
    errors = {w.name: repr(w.error) for w in workers if w.error is not None}
    assert not errors, f"threads raised: {errors}"


def wait_until_blocked_on_lock(backend_pid: int, timeout: float = 10.0) -> bool:
    """Poll (from this thread's connection) until ``backend_pid`` waits for a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [backend_pid]
            )
            row = cursor.fetchone()
        if row is not None and row[0] == "Lock":
            return True
        time.sleep(0.01)
    return False


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return int(pid)


# -- many writers of one entity --------------------------------------------------------------


def rotate_severity_and_retag(widget_id: str, tag: str) -> Callable[[WidgetState | None], None]:
    """An apply that always changes ``severity`` (relative to prev) and ``tagIds`` (to [tag])."""

    def apply(prev: WidgetState | None) -> None:
        assert prev is not None, f"{widget_id} vanished"
        severity = SEVERITIES[(SEVERITIES.index(prev.severity) + 1) % len(SEVERITIES)]
        Widget.objects.filter(id=widget_id).update(severity=severity)
        WidgetTag.objects.filter(widget_id=widget_id).delete()
        WidgetTag.objects.create(widget_id=widget_id, tag=tag)

    return apply


def test_concurrent_mutations_of_one_entity_log_a_gap_free_chained_history(
    widgets: EntityHandle[WidgetState],
) -> None:
    threads, calls = 8, 50
    create_widget(widgets, "w1", tags=["initial"], status="open", severity="major")
    barrier = threading.Barrier(threads, timeout=JOIN_TIMEOUT)

    def mutate_many(thread_no: int) -> None:
        barrier.wait()
        for call_no in range(calls):
            widgets.mutate("w1", rotate_severity_and_retag("w1", f"t{thread_no}-{call_no}"))

    workers = [
        Worker(functools.partial(mutate_many, n), name=f"writer-{n}") for n in range(threads)
    ]
    with running(*workers):
        pass

    changes = list(widgets.history("w1"))
    total = 1 + threads * calls
    assert len(changes) == total
    assert [c.seq for c in changes] == list(range(1, total + 1))
    assert changes[0].prev is None
    for earlier, later in itertools.pairwise(changes):
        assert later.prev == earlier.next, f"seq {later.seq} does not continue seq {earlier.seq}"
        assert later.changed_fields == ["severity", "tagIds"]
    # Every one of the 400 mutations is in the log, exactly once.
    logged_tags = Counter(tag for c in changes[1:] for tag in c.next["tagIds"])
    expected_tags = {f"t{t}-{c}" for t in range(threads) for c in range(calls)}
    assert set(logged_tags) == expected_tags
    assert set(logged_tags.values()) == {1}
    current = widgets.get("w1")
    assert current is not None
    assert current.model_dump(mode="json") == changes[-1].next

    window = dt.timedelta(hours=1)
    assert widgets.transition_count("w1", "severity", window) == total
    assert widgets.transition_count("w1", "tagIds", window) == total
    assert widgets.transition_count("w1", "status", window) == 1

    events = list(
        TriggerEvent.objects.filter(change__kind="widget", change__entity_id="w1").values_list(
            "change_id", "event"
        )
    )
    events_per_change = Counter(change_id for change_id, _ in events)
    assert events_per_change == {c.change_id: 1 for c in changes}
    event_of = dict(events)
    assert event_of[changes[0].change_id] == "widget.created"
    assert {event_of[c.change_id] for c in changes[1:]} == {"widget.updated"}


# -- advisory locks across processes ---------------------------------------------------------


def find_then_create_slot(barrier: ProcessBarrier, use_lock: bool) -> None:
    """Child process body: find-then-create Slot "x"; reports failure through the exit code."""
    code = 1
    try:
        connections.close_all()  # never reuse the parent's socket
        connection.ensure_connection()
        barrier.wait(timeout=JOIN_TIMEOUT)
        with transaction.atomic():
            lock = advisory_lock("slot:x") if use_lock else contextlib.nullcontext()
            with lock:
                exists = Slot.objects.filter(name="x").exists()
                time.sleep(0.2)  # widen the window between the check and the insert
                if not exists:
                    Slot.objects.create(name="x", owner=str(os.getpid()))
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            connections.close_all()
        os._exit(code)  # skip pytest's atexit handlers in the child


def race_find_then_create(use_lock: bool, processes: int = 6) -> int:
    """Run ``find_then_create_slot`` in ``processes`` forked processes; return the row count."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes)
    connections.close_all()  # children must not inherit an open connection
    children = [
        context.Process(target=find_then_create_slot, args=(barrier, use_lock), daemon=True)
        for _ in range(processes)
    ]
    try:
        for child in children:
            child.start()
        for child in children:
            child.join(timeout=JOIN_TIMEOUT)
        assert [child.exitcode for child in children] == [0] * processes
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
                child.join(timeout=5)
    return Slot.objects.filter(name="x").count()


def test_advisory_lock_serializes_find_then_create_across_processes() -> None:
    assert race_find_then_create(use_lock=True) == 1


def test_find_then_create_without_advisory_lock_creates_duplicates() -> None:
    # The same race without the lock: proves the test above can fail.
    assert race_find_then_create(use_lock=False) > 1


# -- lock timeouts ---------------------------------------------------------------------------


@override_settings(CHECKSTACK_LOCK_TIMEOUT=0.3)
def test_mutate_waiting_longer_than_lock_timeout_raises_lock_timeout_and_writes_nothing(
    widgets: EntityHandle[WidgetState],
) -> None:
    create_widget(widgets, "w1", status="open", severity="major")
    holding, release = threading.Event(), threading.Event()

    def hold(prev: WidgetState | None) -> None:
        Widget.objects.filter(id="w1").update(severity="critical")
        holding.set()
        release.wait(timeout=HOLD_TIMEOUT)

    applied: list[WidgetState | None] = []

    def close(prev: WidgetState | None) -> None:
        applied.append(prev)
        Widget.objects.filter(id="w1").update(status="closed")

    holder = Worker(lambda: widgets.mutate("w1", hold), name="holder")
    with running(holder, release=(release,)):
        assert holding.wait(timeout=JOIN_TIMEOUT)
        with pytest.raises(LockTimeout):
            widgets.mutate("w1", close)
        assert applied == []
        release.set()

    assert Widget.objects.get(id="w1").status == "open"
    changes = list(widgets.history("w1"))
    assert [c.seq for c in changes] == [1, 2]
    assert changes[1].prev == changes[0].next
    assert changes[1].delta == {"severity": "critical"}

    widgets.mutate("w1", close)
    assert [c.seq for c in widgets.history("w1")] == [1, 2, 3]


@override_settings(CHECKSTACK_LOCK_TIMEOUT=0.3)
def test_advisory_lock_wait_longer_than_lock_timeout_raises_and_other_keys_do_not_block() -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic(), advisory_lock("slot:x"):
            Slot.objects.create(name="held")
            holding.set()
            release.wait(timeout=HOLD_TIMEOUT)

    entered: list[str] = []
    holder = Worker(hold, name="holder")
    with running(holder, release=(release,)):
        assert holding.wait(timeout=JOIN_TIMEOUT)
        with pytest.raises(LockTimeout), transaction.atomic(), advisory_lock("slot:x"):
            entered.append("slot:x")
        with transaction.atomic(), advisory_lock("slot:y"):
            entered.append("slot:y")
            Slot.objects.create(name="y")
        assert entered == ["slot:y"]
        release.set()

    assert set(Slot.objects.values_list("name", flat=True)) == {"held", "y"}
    # The holder's transaction ended, so the key is free again.
    with transaction.atomic(), advisory_lock("slot:x"):
        Slot.objects.create(name="x")
    assert Slot.objects.filter(name="x").count() == 1


@override_settings(CHECKSTACK_LOCK_TIMEOUT=0.3)
def test_advisory_lock_as_a_plain_call_holds_the_key_until_the_transaction_ends() -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            advisory_lock("slot:plain")  # no with-block: the call itself takes the lock
            holding.set()
            release.wait(timeout=HOLD_TIMEOUT)

    holder = Worker(hold, name="holder")
    with running(holder, release=(release,)):
        assert holding.wait(timeout=JOIN_TIMEOUT)
        with pytest.raises(LockTimeout), transaction.atomic():
            advisory_lock("slot:plain")
        release.set()


def test_advisory_lock_outside_a_transaction_is_refused() -> None:
    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        advisory_lock("slot:nowhere")


# -- the entity lock before the domain row exists --------------------------------------------


def test_update_racing_the_create_of_a_new_entity_waits_for_it_and_logs_seq_2(
    widgets: EntityHandle[WidgetState],
) -> None:
    creating, release = threading.Event(), threading.Event()
    updater_pid: list[int] = []
    updater_ready = threading.Event()
    seen: dict[str, WidgetState | None] = {}

    def create(prev: WidgetState | None) -> None:
        seen["create"] = prev
        Widget.objects.create(id="w-new", status="open", severity="major")
        creating.set()
        release.wait(timeout=HOLD_TIMEOUT)

    def update(prev: WidgetState | None) -> None:
        seen["update"] = prev
        Widget.objects.filter(id="w-new").update(severity="critical")

    def run_update() -> None:
        updater_pid.append(backend_pid())
        updater_ready.set()
        widgets.mutate("w-new", update)

    creator = Worker(lambda: widgets.mutate("w-new", create), name="creator")
    updater = Worker(run_update, name="updater")
    with running(creator, release=(release,)):
        assert creating.wait(timeout=JOIN_TIMEOUT)
        with running(updater, release=(release,)):
            assert updater_ready.wait(timeout=JOIN_TIMEOUT)
            # The creator's row is not committed yet: the updater must be waiting on a lock.
            updater_blocked = wait_until_blocked_on_lock(updater_pid[0])
            release.set()
    assert updater_blocked, "the update did not wait for the create's entity lock"

    assert seen["create"] is None
    assert seen["update"] is not None and seen["update"].severity == "major"
    changes = list(widgets.history("w-new"))
    assert [c.seq for c in changes] == [1, 2]
    assert changes[0].prev is None
    assert changes[1].prev == changes[0].next
    assert changes[1].delta == {"severity": "critical"}
