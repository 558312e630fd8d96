"""Durable delivery of changes: the outbox, retries, ordering, the sweeper and operator actions.

Runs on both databases in one process: deliveries are driven by calling
``checkstack.entities.delivery.deliver`` (what the django-q2 task does) or
``entities_sweep --inline``; the after-commit enqueue is observed by replacing
``checkstack.entities.outbox.enqueue_tasks``. Real worker processes are in
``test_delivery_workers_pg.py``.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule

from checkstack.entities import (
    Broadcast,
    EntityChange,
    WorkQueue,
    entity_changed,
    on_entity_changed,
    operations,
    outbox,
)
from checkstack.entities import delivery as delivery_service
from checkstack.entities.delivery import Outcome, deliver, dispatch_trigger_event
from checkstack.entities.handle import EntityHandle
from checkstack.entities.models import Change, Delivery, DeliveryStatus, TriggerEvent
from checkstack.entities.operations import queue_health
from checkstack.entities.schedules import SWEEP_FUNC, ensure_sweeper_schedules
from tests.testapp.entity import WidgetState, create_widget
from tests.testapp.models import Record, Widget

pytestmark = pytest.mark.django_db

DELIVERY_CHANGELIST = "/admin/entities/delivery/"
DELIVER_TASK = "checkstack.entities.tasks.deliver"
DISPATCH_TASK = "checkstack.entities.tasks.dispatch_trigger_event"
SWEEP_SCHEDULE_NAMES = ("checkstack-entities-sweep-a", "checkstack-entities-sweep-b")

Job = tuple[str, Any]


class Rollback(Exception):
    pass


class Flaky:
    """A work-queue handler that raises for chosen ``(entity_id, seq)`` and records the rest.

    ``fail_times`` is how many attempts of each chosen change raise (``None``: every attempt).
    A successful run inserts ``Record(key="<entity>:<seq>")``, so the autoincrement id of the
    records gives the order in which changes were handled.
    """

    def __init__(
        self, failing: Iterable[tuple[str, int]] = (), fail_times: int | None = None
    ) -> None:
        self.failing = set(failing)
        self.fail_times = fail_times
        self.failures: dict[tuple[str, int], int] = {}
        self.handled: list[tuple[str, int]] = []
        self.broken = False

    def __call__(self, change: EntityChange) -> None:
        key = (change.entity_id, change.seq)
        if self.broken or (
            key in self.failing
            and (self.fail_times is None or self.failures.get(key, 0) < self.fail_times)
        ):
            self.failures[key] = self.failures.get(key, 0) + 1
            # Written before raising: must be rolled back with the failed attempt.
            Record.objects.create(key=f"failed:{change.entity_id}:{change.seq}")
            raise RuntimeError(f"subscriber exploded on {change.entity_id} #{change.seq}")
        self.handled.append(key)
        Record.objects.create(key=f"{change.entity_id}:{change.seq}")


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[Job]:
    """The tasks handed to ``enqueue_tasks`` as ``(func, arg)``; nothing reaches a broker.

    Writes enqueue after COMMIT here, also with the ORM broker, where they would otherwise
    insert their tasks themselves (tests/entities/test_tasks_in_transaction.py)."""
    monkeypatch.setattr("checkstack.entities.outbox.in_transaction_enqueue", lambda: False)
    jobs: list[Job] = []
    monkeypatch.setattr("checkstack.entities.outbox.enqueue_tasks", jobs.extend)
    return jobs


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


def set_note(handle: EntityHandle[WidgetState], widget_id: str, note: str) -> None:
    handle.mutate(
        widget_id, lambda prev: Widget.objects.filter(id=widget_id).update(secret_note=note)
    )


def widget_with_changes(handle: EntityHandle[WidgetState], widget_id: str, changes: int) -> None:
    """Create ``widget_id`` (seq 1), then change its note until it has ``changes`` changes."""
    create_widget(handle, widget_id, status="open")
    for n in range(2, changes + 1):
        set_note(handle, widget_id, f"note {n}")


def delivery_ids(widget_id: str, group: str | None = None) -> list[int]:
    rows = Delivery.objects.filter(kind="widget", entity_id=widget_id)
    if group is not None:
        rows = rows.filter(group=group)
    return list(rows.order_by("seq").values_list("pk", flat=True))


def make_due(delivery_id: int) -> None:
    Delivery.objects.filter(pk=delivery_id).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )


def handled_order() -> list[str]:
    """Keys of successful handler runs in the order they were inserted."""
    return list(
        Record.objects.exclude(key__startswith="failed:")
        .order_by("pk")
        .values_list("key", flat=True)
    )


def sweep_inline(out: io.StringIO) -> str:
    out.seek(0)
    out.truncate()
    call_command("entities_sweep", "--inline", stdout=out)
    return out.getvalue()


# -- retries, dead deliveries and the operator's actions --------------------------------------


def test_raising_handler_is_retried_with_growing_delays_and_ends_dead_after_max_attempts(
    widgets: EntityHandle[WidgetState], settings: Any
) -> None:
    settings.CHECKSTACK_DELIVERY_RETRY_BASE = 100
    settings.CHECKSTACK_DELIVERY_RETRY_CAP = 10_000
    handler = Flaky(failing={("w1", 1)})
    on_entity_changed("widget", handler, WorkQueue("g", max_attempts=3))
    create_widget(widgets, "w1", status="open")
    (delivery_id,) = delivery_ids("w1")

    delays: list[float] = []
    for attempt in (1, 2):
        started = timezone.now()
        assert deliver(delivery_id) is Outcome.RETRY
        row = Delivery.objects.get(pk=delivery_id)
        assert (row.status, row.attempts, row.finished_at) == (
            DeliveryStatus.PENDING,
            attempt,
            None,
        )
        assert "RuntimeError: subscriber exploded on w1 #1" in row.last_error
        delays.append((row.next_attempt_at - started).total_seconds())
        # Not due before its next attempt time: the handler does not run.
        assert deliver(delivery_id) is Outcome.SKIPPED
        assert handler.failures == {("w1", 1): attempt}
        make_due(delivery_id)

    # base * 2^(attempt-1) with +-20 % jitter: [80, 120) s, then [160, 240) s.
    assert 80 <= delays[0] < 121
    assert 160 <= delays[1] < 241
    assert delays[1] > delays[0]

    assert deliver(delivery_id) is Outcome.DEAD
    row = Delivery.objects.get(pk=delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.DEAD, 3)
    assert row.finished_at is not None
    assert "RuntimeError: subscriber exploded on w1 #1" in row.last_error
    assert handler.failures == {("w1", 1): 3}
    # Every failed attempt rolled back what the handler wrote.
    assert not Record.objects.exists()

    make_due(delivery_id)
    assert deliver(delivery_id) is Outcome.SKIPPED
    assert handler.failures == {("w1", 1): 3}


def test_retry_delay_is_capped(widgets: EntityHandle[WidgetState], settings: Any) -> None:
    settings.CHECKSTACK_DELIVERY_RETRY_BASE = 100
    settings.CHECKSTACK_DELIVERY_RETRY_CAP = 150
    on_entity_changed("widget", Flaky(failing={("w1", 1)}), WorkQueue("g", max_attempts=5))
    create_widget(widgets, "w1", status="open")
    (delivery_id,) = delivery_ids("w1")

    delays: list[float] = []
    for _ in range(3):
        make_due(delivery_id)
        started = timezone.now()
        assert deliver(delivery_id) is Outcome.RETRY
        delays.append(
            (Delivery.objects.get(pk=delivery_id).next_attempt_at - started).total_seconds()
        )

    assert 80 <= delays[0] < 121
    # Uncapped these would be [160, 240) and [320, 480).
    assert 150 <= delays[1] < 151
    assert 150 <= delays[2] < 151


def test_admin_retry_now_makes_a_dead_delivery_pending_and_the_next_sweep_completes_it(
    widgets: EntityHandle[WidgetState],
    admin_client: Client,
    enqueued: list[Job],
    django_capture_on_commit_callbacks: Any,
    out: io.StringIO,
) -> None:
    handler = Flaky()
    handler.broken = True
    on_entity_changed("widget", handler, WorkQueue("g", max_attempts=3))
    create_widget(widgets, "w1", status="open")
    (delivery_id,) = delivery_ids("w1")
    for _ in range(3):
        make_due(delivery_id)
        deliver(delivery_id)
    assert Delivery.objects.get(pk=delivery_id).status == DeliveryStatus.DEAD

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            DELIVERY_CHANGELIST,
            {"action": "retry_now", "_selected_action": [str(delivery_id)]},
            follow=True,
        )
    assert response.status_code == 200
    assert "1 deliveries queued for a new attempt." in response.content.decode()
    row = Delivery.objects.get(pk=delivery_id)
    assert (row.status, row.finished_at) == (DeliveryStatus.PENDING, None)
    assert row.next_attempt_at <= timezone.now()
    assert enqueued == [(DELIVER_TASK, delivery_id)]

    handler.broken = False
    assert "Processed 1 deliveries" in sweep_inline(out)
    row = Delivery.objects.get(pk=delivery_id)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.DONE, 4, "")
    assert handled_order() == ["w1:1"]


def test_admin_retry_now_gives_a_fresh_budget_of_attempts(
    widgets: EntityHandle[WidgetState], admin_client: Client
) -> None:
    handler = Flaky()
    handler.broken = True
    on_entity_changed("widget", handler, WorkQueue("g", max_attempts=2))
    create_widget(widgets, "w1", status="open")
    (delivery_id,) = delivery_ids("w1")
    for _ in range(2):
        make_due(delivery_id)
        deliver(delivery_id)

    admin_client.post(
        DELIVERY_CHANGELIST, {"action": "retry_now", "_selected_action": [str(delivery_id)]}
    )

    assert deliver(delivery_id) is Outcome.RETRY
    make_due(delivery_id)
    assert deliver(delivery_id) is Outcome.DEAD
    assert Delivery.objects.get(pk=delivery_id).attempts == 4


def test_retrying_twice_does_not_grow_the_budget_beyond_the_subscribers_max_attempts(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Flaky()
    handler.broken = True
    on_entity_changed("widget", handler, WorkQueue("g", max_attempts=2))
    create_widget(widgets, "w1", status="open")
    (delivery_id,) = delivery_ids("w1")
    for _ in range(2):
        make_due(delivery_id)
        deliver(delivery_id)

    operations.retry_now([delivery_id])
    operations.retry_now([delivery_id])

    row = Delivery.objects.get(pk=delivery_id)
    assert (row.status, row.attempts, row.max_attempts) == (DeliveryStatus.PENDING, 2, 4)


def test_sweep_does_not_enqueue_a_later_change_while_the_first_waits_for_its_retry(
    widgets: EntityHandle[WidgetState], settings: Any
) -> None:
    settings.CHECKSTACK_SWEEP_GRACE = 0
    settings.CHECKSTACK_DELIVERY_RETRY_BASE = 3600
    on_entity_changed("widget", Flaky(failing={("w1", 1)}, fail_times=1), WorkQueue("g"))
    widget_with_changes(widgets, "w1", 2)
    first, second = delivery_ids("w1")
    create_widget(widgets, "w2", status="open")
    (other,) = delivery_ids("w2")
    assert deliver(first) is Outcome.RETRY

    due = delivery_service.due_deliveries(grace=0, limit=100)

    assert second not in due and first not in due
    assert other in due


def test_admin_mark_dead_gives_up_on_pending_deliveries_and_leaves_done_ones(
    widgets: EntityHandle[WidgetState], admin_client: Client, out: io.StringIO
) -> None:
    handler = Flaky()
    on_entity_changed("widget", handler, WorkQueue("g"))
    create_widget(widgets, "w1", status="open")
    create_widget(widgets, "w2", status="open")
    (pending_id,) = delivery_ids("w1")
    (done_id,) = delivery_ids("w2")
    assert deliver(done_id) is Outcome.DONE

    response = admin_client.post(
        DELIVERY_CHANGELIST,
        {"action": "mark_dead", "_selected_action": [str(pending_id), str(done_id)]},
        follow=True,
    )

    assert "1 pending deliveries marked dead." in response.content.decode()
    dead = Delivery.objects.get(pk=pending_id)
    assert (dead.status, dead.attempts) == (DeliveryStatus.DEAD, 0)
    assert dead.finished_at is not None
    assert dead.last_error == "Marked dead by an operator"
    assert Delivery.objects.get(pk=done_id).status == DeliveryStatus.DONE
    sweep_inline(out)
    assert handler.handled == [("w2", 1)]


def test_admin_delivery_actions_need_the_change_delivery_permission(
    widgets: EntityHandle[WidgetState], client: Client, django_user_model: Any
) -> None:
    on_entity_changed("widget", Flaky(), WorkQueue("g"))
    create_widget(widgets, "w1", status="open")
    (delivery_id,) = delivery_ids("w1")
    viewer = django_user_model.objects.create_user(username="viewer", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(content_type__app_label="entities", codename="view_delivery")
    )
    client.force_login(viewer)

    assert client.get(DELIVERY_CHANGELIST).status_code == 200
    client.post(
        DELIVERY_CHANGELIST, {"action": "mark_dead", "_selected_action": [str(delivery_id)]}
    )

    assert Delivery.objects.get(pk=delivery_id).status == DeliveryStatus.PENDING


# -- lost enqueue and the sweeper -------------------------------------------------------------


def test_lost_enqueue_leaves_the_rows_pending_and_one_inline_sweep_delivers_them_exactly_once(
    widgets: EntityHandle[WidgetState],
    settings: Any,
    enqueued: list[Job],
    django_capture_on_commit_callbacks: Any,
    out: io.StringIO,
) -> None:
    settings.CHECKSTACK_ENQUEUE = False  # the process "crashed" between COMMIT and enqueue
    handler = Flaky()
    on_entity_changed("widget", handler, WorkQueue("g"))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        create_widget(widgets, "w1", status="open")
    assert callbacks
    assert enqueued == []
    (delivery_id,) = delivery_ids("w1")
    (event,) = TriggerEvent.objects.all()
    assert Delivery.objects.get(pk=delivery_id).status == DeliveryStatus.PENDING
    assert event.dispatched_at is None

    output = sweep_inline(out)

    assert "Processed 1 deliveries and dispatched 1 trigger events." in output
    assert "Pending now: 0" in output
    assert handler.handled == [("w1", 1)]
    row = Delivery.objects.get(pk=delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.DONE, 1)
    event.refresh_from_db()
    dispatched_at = event.dispatched_at
    assert dispatched_at is not None

    output = sweep_inline(out)

    assert "Processed 0 deliveries and dispatched 0 trigger events." in output
    assert handler.handled == [("w1", 1)]
    event.refresh_from_db()
    assert event.dispatched_at == dispatched_at
    assert Record.objects.count() == 1


def test_sweep_enqueues_pending_rows_once_they_are_older_than_the_grace_period(
    widgets: EntityHandle[WidgetState],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    out: io.StringIO,
) -> None:
    on_entity_changed("widget", Flaky(), WorkQueue("g"))
    create_widget(widgets, "w1", status="open")  # its on-commit enqueue never runs here
    (delivery_id,) = delivery_ids("w1")
    (event_id,) = TriggerEvent.objects.values_list("id", flat=True)
    calls: list[tuple[list[int], list[uuid.UUID]]] = []
    monkeypatch.setattr(outbox, "enqueue", lambda d, e: calls.append((list(d), list(e))))

    settings.CHECKSTACK_SWEEP_GRACE = 3600
    call_command("entities_sweep", stdout=out)
    assert [ids for call in calls for ids in call if ids] == []

    settings.CHECKSTACK_SWEEP_GRACE = 0
    call_command("entities_sweep", stdout=out)
    assert calls[-1] == ([delivery_id], [event_id])
    assert "Enqueued 1 deliveries and 1 trigger events." in out.getvalue()
    # Sweeping only enqueues: the rows stay pending until a worker runs the tasks.
    assert Delivery.objects.get(pk=delivery_id).status == DeliveryStatus.PENDING
    assert TriggerEvent.objects.get(pk=event_id).dispatched_at is None


def test_sweep_enqueues_a_due_retry_whatever_the_grace_period(
    widgets: EntityHandle[WidgetState],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    out: io.StringIO,
) -> None:
    settings.CHECKSTACK_SWEEP_GRACE = 3600
    settings.CHECKSTACK_DELIVERY_RETRY_BASE = 3600
    on_entity_changed("widget", Flaky(failing={("w1", 1)}, fail_times=1), WorkQueue("g"))
    create_widget(widgets, "w1", status="open")
    (delivery_id,) = delivery_ids("w1")
    assert deliver(delivery_id) is Outcome.RETRY
    calls: list[list[int]] = []
    monkeypatch.setattr(outbox, "enqueue", lambda d, e: calls.append(list(d)))

    call_command("entities_sweep", stdout=out)
    assert calls == [[]]  # failed, but its next attempt is not due yet

    make_due(delivery_id)
    call_command("entities_sweep", stdout=out)
    assert calls[-1] == [delivery_id]


def test_inline_sweep_returns_while_the_first_change_of_an_entity_waits_for_its_retry(
    widgets: EntityHandle[WidgetState],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    out: io.StringIO,
) -> None:
    settings.CHECKSTACK_DELIVERY_RETRY_BASE = 3600  # seq 1 is not due again during the test
    handler = Flaky(failing={("w1", 1)})
    on_entity_changed("widget", handler, WorkQueue("g"))
    widget_with_changes(widgets, "w1", 2)
    first, second = delivery_ids("w1")
    real_due_deliveries = delivery_service.due_deliveries
    rounds: list[list[int]] = []

    def bounded_due_deliveries(*, grace: float, limit: int) -> list[int]:
        due = real_due_deliveries(grace=grace, limit=limit)
        rounds.append(due)
        if len(rounds) > 20:
            raise AssertionError(
                f"entities_sweep --inline does not settle: round {len(rounds)} still finds "
                f"{due} due (first={first}, second={second})"
            )
        return due

    monkeypatch.setattr(delivery_service, "due_deliveries", bounded_due_deliveries)

    sweep_inline(out)

    failed = Delivery.objects.get(pk=first)
    assert (failed.status, failed.attempts) == (DeliveryStatus.PENDING, 1)
    waiting = Delivery.objects.get(pk=second)
    assert (waiting.status, waiting.attempts) == (DeliveryStatus.PENDING, 0)
    assert handler.handled == []


def test_inline_sweep_delivers_every_change_of_every_entity_in_seq_order(
    widgets: EntityHandle[WidgetState], out: io.StringIO
) -> None:
    handler = Flaky()
    on_entity_changed("widget", handler, WorkQueue("g"))
    for widget_id in ("w1", "w2", "w3"):
        widget_with_changes(widgets, widget_id, 5)

    assert "Processed 15 deliveries and dispatched 15 trigger events." in sweep_inline(out)

    order = handled_order()
    assert len(order) == 15
    for widget_id in ("w1", "w2", "w3"):
        assert [k for k in order if k.startswith(f"{widget_id}:")] == [
            f"{widget_id}:{seq}" for seq in range(1, 6)
        ]
    assert set(Delivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.DONE, 1)}


# -- enqueue after commit ---------------------------------------------------------------------


def test_commit_enqueues_one_task_per_delivery_and_per_trigger_event_and_none_before(
    widgets: EntityHandle[WidgetState],
    enqueued: list[Job],
    django_capture_on_commit_callbacks: Any,
) -> None:
    on_entity_changed("widget", Flaky(), WorkQueue("g1"))
    on_entity_changed("widget", Flaky(), WorkQueue("g2"))
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            create_widget(widgets, "w1", status="open")
            set_note(widgets, "w1", "second change")
        assert enqueued == []

    deliveries = sorted(Delivery.objects.values_list("pk", flat=True))
    events = sorted(str(e) for e in TriggerEvent.objects.values_list("id", flat=True))
    assert len(deliveries) == 4
    assert len(events) == 2
    assert sorted(arg for func, arg in enqueued if func == DELIVER_TASK) == deliveries
    assert sorted(arg for func, arg in enqueued if func == DISPATCH_TASK) == events
    assert len(enqueued) == 6


def test_enqueued_tasks_deliver_and_dispatch_when_a_worker_runs_them(
    widgets: EntityHandle[WidgetState],
    enqueued: list[Job],
    django_capture_on_commit_callbacks: Any,
) -> None:
    handler = Flaky()
    on_entity_changed("widget", handler, WorkQueue("g"))
    with django_capture_on_commit_callbacks(execute=True):
        create_widget(widgets, "w1", status="open")

    results = [import_string(func)(arg) for func, arg in enqueued]

    # The delivery's task ran first and its drain dispatched the event too; the event's own
    # task then found it dispatched.
    assert [func for func, _ in enqueued] == [DELIVER_TASK, DISPATCH_TASK]
    assert results == ["done", False]
    assert handler.handled == [("w1", 1)]
    assert Delivery.objects.get().status == DeliveryStatus.DONE
    assert TriggerEvent.objects.get().dispatched_at is not None


def test_one_task_drains_the_due_rows_of_other_entities_and_their_tasks_find_them_done(
    widgets: EntityHandle[WidgetState],
    enqueued: list[Job],
    django_capture_on_commit_callbacks: Any,
) -> None:
    handler = Flaky()
    on_entity_changed("widget", handler, WorkQueue("g"))
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            widget_with_changes(widgets, f"w{n}", 2)
    first_func, first_arg = enqueued[0]

    assert import_string(first_func)(first_arg) == "done"

    assert sorted(handler.handled) == [(f"w{n}", seq) for n in range(3) for seq in (1, 2)]
    assert not Delivery.objects.exclude(status=DeliveryStatus.DONE).exists()
    assert not TriggerEvent.objects.filter(dispatched_at__isnull=True).exists()
    later = [import_string(func)(arg) for func, arg in enqueued[1:]]
    assert set(map(str, later)) <= {"skipped", "False"}
    assert len(handler.handled) == 6  # nothing ran twice


def test_drain_keeps_each_entitys_order_and_skips_rows_that_are_not_due(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Flaky(failing=[("w1", 1)], fail_times=1)
    on_entity_changed("widget", handler, WorkQueue("g"))
    widget_with_changes(widgets, "w1", 3)
    widget_with_changes(widgets, "w2", 2)

    delivery_service.drain(seconds=5)

    # w1 #1 failed and waits for its retry, so w1 #2 and #3 wait behind it; w2 is not blocked.
    assert handler.handled == [("w2", 1), ("w2", 2)]
    make_due(delivery_ids("w1")[0])
    delivery_service.drain(seconds=5)
    assert handler.handled[2:] == [("w1", 1), ("w1", 2), ("w1", 3)]


def test_a_batch_marks_its_successes_done_and_schedules_its_failure_for_a_retry(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Flaky(failing=[("w2", 1)])
    on_entity_changed("widget", handler, WorkQueue("g", max_attempts=3))
    for n in range(1, 4):
        create_widget(widgets, f"w{n}", status="open")

    assert delivery_service.deliver_batch(10) == 3

    rows = {d.entity_id: d for d in Delivery.objects.all()}
    assert [(rows[w].status, rows[w].attempts) for w in ("w1", "w2", "w3")] == [
        (DeliveryStatus.DONE, 1),
        (DeliveryStatus.PENDING, 1),
        (DeliveryStatus.DONE, 1),
    ]
    assert "subscriber exploded on w2" in rows["w2"].last_error
    assert rows["w2"].next_attempt_at > timezone.now()
    # The failed handler's own write was rolled back with its savepoint, the others kept.
    assert handled_order() == ["w1:1", "w3:1"]
    assert not Record.objects.filter(key__startswith="failed:").exists()
    assert delivery_service.deliver_batch(10) == 0  # nothing due until the retry time


def test_a_batch_runs_consecutive_changes_of_one_entity_in_seq_order(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Flaky()
    on_entity_changed("widget", handler, WorkQueue("g"))
    widget_with_changes(widgets, "w1", 3)
    widget_with_changes(widgets, "w2", 2)

    assert delivery_service.deliver_batch(10) == 5

    assert [c for c in handler.handled if c[0] == "w1"] == [("w1", 1), ("w1", 2), ("w1", 3)]
    assert [c for c in handler.handled if c[0] == "w2"] == [("w2", 1), ("w2", 2)]
    assert not Delivery.objects.exclude(status=DeliveryStatus.DONE).exists()


def test_a_failure_in_a_batch_holds_back_the_rest_of_its_line_only(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Flaky(failing=[("w1", 2)])
    on_entity_changed("widget", handler, WorkQueue("g", max_attempts=3))
    widget_with_changes(widgets, "w1", 3)
    widget_with_changes(widgets, "w2", 2)

    assert delivery_service.deliver_batch(10) == 4  # w1 #1, w1 #2 (failed), w2 #1, w2 #2

    rows = {d.seq: d for d in Delivery.objects.filter(entity_id="w1")}
    assert [(rows[n].status, rows[n].attempts) for n in (1, 2, 3)] == [
        (DeliveryStatus.DONE, 1),
        (DeliveryStatus.PENDING, 1),
        (DeliveryStatus.PENDING, 0),  # not attempted: it waits behind #2's retry
    ]
    assert ("w1", 3) not in handler.handled
    assert [c for c in handler.handled if c[0] == "w2"] == [("w2", 1), ("w2", 2)]


def test_a_batch_leaves_a_change_whose_earlier_change_it_did_not_claim(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Flaky()
    on_entity_changed("widget", handler, WorkQueue("g"))
    widget_with_changes(widgets, "w1", 3)
    first = delivery_ids("w1")[0]
    # #1 is not due yet, so the batch claims #2 and #3 only: neither may run before #1.
    Delivery.objects.filter(pk=first).update(next_attempt_at=timezone.now() + dt.timedelta(hours=1))

    assert delivery_service.deliver_batch(10) == 0

    assert handler.handled == []
    make_due(first)
    assert delivery_service.deliver_batch(10) == 3
    assert handler.handled == [("w1", 1), ("w1", 2), ("w1", 3)]


def test_a_batch_costs_the_same_few_queries_whatever_its_size(
    widgets: EntityHandle[WidgetState], django_assert_max_num_queries: Any
) -> None:
    on_entity_changed("widget", lambda change: None, WorkQueue("g"))
    for n in range(20):
        widget_with_changes(widgets, f"w{n}", 2)

    # claim, changes, lines, one UPDATE; a savepoint and its release per handler; BEGIN/COMMIT
    with django_assert_max_num_queries(6 + 2 * 40):
        assert delivery_service.deliver_batch(40) == 40


def test_sweep_finds_heads_past_a_long_line_waiting_behind_a_retry(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Flaky(failing=[("w1", 1)])
    on_entity_changed("widget", handler, WorkQueue("g"))
    widget_with_changes(widgets, "w1", 6)
    deliver(delivery_ids("w1")[0])  # fails: #1 waits for its retry, #2..#6 are due but blocked
    create_widget(widgets, "w2", status="open")

    # The first pages of due rows hold only blocked rows of w1; w2's head comes after them.
    assert delivery_service.due_deliveries(grace=0, limit=2) == delivery_ids("w2")


def test_drain_goes_on_past_a_trigger_event_whose_dispatch_raises(
    widgets: EntityHandle[WidgetState],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    create_widget(widgets, "bad", status="open")
    create_widget(widgets, "good", status="open")

    def dispatch(event: TriggerEvent) -> None:
        if "bad" in str(event.payload):
            raise RuntimeError("automation bug")

    monkeypatch.setattr("checkstack.entities.registry._dispatch_trigger_event", dispatch)
    with caplog.at_level(logging.ERROR):
        assert delivery_service.drain(seconds=5) == 1

    pending = TriggerEvent.objects.filter(dispatched_at__isnull=True)
    assert [str(e.payload) for e in pending] and all("bad" in str(e.payload) for e in pending)
    assert TriggerEvent.objects.filter(dispatched_at__isnull=False).count() == 1
    assert "stays pending" in caplog.text


def test_broker_failure_is_logged_and_leaves_the_rows_pending(
    widgets: EntityHandle[WidgetState],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    on_entity_changed("widget", Flaky(), WorkQueue("g"))
    attempts: list[str] = []

    def broken_store(alias: str, key: str, packages: list[str]) -> None:
        attempts.extend(packages)
        raise ConnectionError("broker down")

    monkeypatch.setattr("checkstack.entities.outbox._store_orm_tasks", broken_store)
    # The after-COMMIT enqueue (a broker of its own); with the ORM broker the tasks would be
    # part of the write's transaction, and could not fail apart from it.
    monkeypatch.setattr("checkstack.entities.outbox.in_transaction_enqueue", lambda: False)
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        state = create_widget(widgets, "w1", status="open")

    assert state.status == "open"
    assert attempts  # the enqueue was tried, after commit
    assert Widget.objects.filter(id="w1").exists()
    assert Change.objects.filter(entity_id="w1").count() == 1
    assert Delivery.objects.get().status == DeliveryStatus.PENDING
    assert TriggerEvent.objects.get().dispatched_at is None
    failures = [r for r in caplog.records if r.name.startswith("checkstack.entities")]
    assert failures
    assert all("Could not enqueue" in r.getMessage() for r in failures)
    assert all(r.exc_info and isinstance(r.exc_info[1], ConnectionError) for r in failures)


# -- per-entity order -------------------------------------------------------------------------


def test_later_change_waits_for_a_failing_earlier_one_and_follows_its_successful_retry(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Flaky(failing={("w1", 1)}, fail_times=1)
    on_entity_changed("widget", handler, WorkQueue("g"))
    widget_with_changes(widgets, "w1", 2)
    first, second = delivery_ids("w1")

    assert deliver(first) is Outcome.RETRY
    assert deliver(second) is Outcome.BLOCKED
    waiting = Delivery.objects.get(pk=second)
    assert (waiting.status, waiting.attempts) == (DeliveryStatus.PENDING, 0)
    assert handler.handled == []

    make_due(first)
    assert deliver(first) is Outcome.DONE

    # Finishing seq 1 delivered seq 2 right away, in the same call.
    assert Delivery.objects.get(pk=second).status == DeliveryStatus.DONE
    assert handled_order() == ["w1:1", "w1:2"]


def test_later_change_waiting_on_a_retry_is_delivered_by_the_sweep_after_it(
    widgets: EntityHandle[WidgetState], out: io.StringIO
) -> None:
    handler = Flaky(failing={("w1", 1)}, fail_times=1)
    on_entity_changed("widget", handler, WorkQueue("g"))
    widget_with_changes(widgets, "w1", 3)
    first, second, third = delivery_ids("w1")
    assert deliver(first) is Outcome.RETRY
    assert deliver(third) is Outcome.BLOCKED
    assert deliver(second) is Outcome.BLOCKED

    make_due(first)
    sweep_inline(out)

    assert handled_order() == ["w1:1", "w1:2", "w1:3"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DONE}


def test_dead_delivery_does_not_block_later_changes_of_its_entity(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Flaky(failing={("w1", 1)})
    on_entity_changed("widget", handler, WorkQueue("g", max_attempts=1))
    widget_with_changes(widgets, "w1", 3)
    first, second, third = delivery_ids("w1")

    assert deliver(first) is Outcome.DEAD

    assert Delivery.objects.get(pk=first).status == DeliveryStatus.DEAD
    assert Delivery.objects.get(pk=second).status == DeliveryStatus.DONE
    assert Delivery.objects.get(pk=third).status == DeliveryStatus.DONE
    assert handled_order() == ["w1:2", "w1:3"]


def test_pending_delivery_of_one_entity_does_not_block_another_entity(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Flaky(failing={("a", 1)})
    on_entity_changed("widget", handler, WorkQueue("g"))
    widget_with_changes(widgets, "a", 2)
    widget_with_changes(widgets, "b", 2)
    a1, a2 = delivery_ids("a")
    b1, b2 = delivery_ids("b")

    assert deliver(a1) is Outcome.RETRY
    assert deliver(a2) is Outcome.BLOCKED
    assert deliver(b1) is Outcome.DONE

    assert Delivery.objects.get(pk=b2).status == DeliveryStatus.DONE
    assert handled_order() == ["b:1", "b:2"]
    assert Delivery.objects.get(pk=a2).status == DeliveryStatus.PENDING


def test_failing_group_does_not_block_another_group_of_the_same_entity(
    widgets: EntityHandle[WidgetState],
) -> None:
    failing, working = Flaky(), Flaky()
    failing.broken = True
    on_entity_changed("widget", failing, WorkQueue("failing"))
    on_entity_changed("widget", working, WorkQueue("working"))
    widget_with_changes(widgets, "w1", 2)

    assert deliver(delivery_ids("w1", "failing")[0]) is Outcome.RETRY
    assert deliver(delivery_ids("w1", "working")[0]) is Outcome.DONE

    assert working.handled == [("w1", 1), ("w1", 2)]
    assert set(Delivery.objects.filter(group="working").values_list("status", flat=True)) == {
        DeliveryStatus.DONE
    }


def test_delivering_a_done_delivery_again_does_not_run_the_handler(
    widgets: EntityHandle[WidgetState],
) -> None:
    handler = Flaky()
    on_entity_changed("widget", handler, WorkQueue("g"))
    create_widget(widgets, "w1", status="open")
    (delivery_id,) = delivery_ids("w1")

    assert deliver(delivery_id) is Outcome.DONE
    assert deliver(delivery_id) is Outcome.SKIPPED

    assert handler.handled == [("w1", 1)]
    assert Delivery.objects.get(pk=delivery_id).attempts == 1


def test_delivery_without_a_subscriber_in_this_process_fails_and_is_retried(
    widgets: EntityHandle[WidgetState],
) -> None:
    unsubscribe = on_entity_changed("widget", Flaky(), WorkQueue("gone"))
    create_widget(widgets, "w1", status="open")
    unsubscribe()
    (delivery_id,) = delivery_ids("w1")

    assert deliver(delivery_id) is Outcome.RETRY

    row = Delivery.objects.get(pk=delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert "No subscriber for work queue 'gone'" in row.last_error


# -- rollback, broadcast subscribers and the signal -------------------------------------------


def test_rolled_back_write_creates_no_change_no_delivery_and_no_trigger_event(
    widgets: EntityHandle[WidgetState], django_capture_on_commit_callbacks: Any
) -> None:
    durable, broadcast = Flaky(), Flaky()
    on_entity_changed("widget", durable, WorkQueue("g"))
    on_entity_changed("widget", broadcast, Broadcast())

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Rollback),
        transaction.atomic(),
    ):
        create_widget(widgets, "w1", status="open")
        assert Delivery.objects.count() == 1  # written inside the transaction...
        raise Rollback

    assert callbacks == []  # ...and nothing runs after it
    assert not Widget.objects.exists()
    assert not Change.objects.exists()
    assert not Delivery.objects.exists()
    assert not TriggerEvent.objects.exists()
    assert broadcast.handled == [] and durable.handled == []


@pytest.fixture
def raising_receiver() -> Iterator[Callable[..., None]]:
    def receiver(sender: str, change: EntityChange, **kwargs: Any) -> None:
        raise RuntimeError("receiver exploded")

    entity_changed.connect(receiver, weak=False, dispatch_uid="test_delivery_raising")
    try:
        yield receiver
    finally:
        entity_changed.disconnect(dispatch_uid="test_delivery_raising")


def assert_write_committed_and_delivered(
    state: WidgetState, later_broadcast: Flaky, enqueued: list[Job]
) -> None:
    assert state.status == "open"
    assert Widget.objects.filter(id="w1").exists()
    assert Change.objects.filter(entity_id="w1", seq=1).exists()
    assert later_broadcast.handled == [("w1", 1)]
    assert (DELIVER_TASK, Delivery.objects.get().pk) in enqueued


def test_raising_broadcast_handler_is_logged_and_does_not_affect_the_write(
    widgets: EntityHandle[WidgetState],
    enqueued: list[Job],
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exploding, later = Flaky(), Flaky()
    exploding.broken = True
    on_entity_changed("widget", Flaky(), WorkQueue("g"))
    on_entity_changed("widget", exploding, Broadcast())
    on_entity_changed("widget", later, Broadcast())

    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        state = create_widget(widgets, "w1", status="open")

    assert_write_committed_and_delivered(state, later, enqueued)
    (logged,) = [r for r in caplog.records if r.name.startswith("checkstack.entities")]
    assert logged.levelno == logging.ERROR
    assert "Broadcast subscriber" in logged.getMessage()
    assert logged.exc_info is not None
    assert "subscriber exploded on w1 #1" in str(logged.exc_info[1])


def test_raising_entity_changed_receiver_is_logged_and_does_not_affect_the_write(
    widgets: EntityHandle[WidgetState],
    raising_receiver: Callable[..., None],
    enqueued: list[Job],
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    later = Flaky()
    on_entity_changed("widget", Flaky(), WorkQueue("g"))
    on_entity_changed("widget", later, Broadcast())

    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        state = create_widget(widgets, "w1", status="open")

    assert_write_committed_and_delivered(state, later, enqueued)
    (logged,) = [r for r in caplog.records if r.name.startswith("checkstack.entities")]
    assert logged.levelno == logging.ERROR
    assert "entity_changed receiver" in logged.getMessage()
    assert logged.exc_info is not None
    assert str(logged.exc_info[1]) == "receiver exploded"


# -- trigger events and queue health ----------------------------------------------------------


def test_dispatch_trigger_event_hands_it_to_the_dispatcher_and_marks_it_once(
    widgets: EntityHandle[WidgetState], monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatched: list[str] = []
    monkeypatch.setattr(
        "checkstack.entities.registry._dispatch_trigger_event",
        lambda event: dispatched.append(event.event),
    )
    create_widget(widgets, "w1", status="open")
    (event,) = TriggerEvent.objects.all()

    assert dispatch_trigger_event(event.id) is True
    event.refresh_from_db()
    first = event.dispatched_at
    assert first is not None

    assert dispatch_trigger_event(event.id) is False
    assert dispatch_trigger_event(str(event.id)) is False
    event.refresh_from_db()
    assert event.dispatched_at == first
    assert dispatched == ["widget.created"]


def test_queue_health_reports_the_pending_count_and_the_age_of_the_oldest(
    widgets: EntityHandle[WidgetState],
) -> None:
    assert queue_health() == {"pending": 0, "oldest_pending_seconds": 0}
    on_entity_changed("widget", Flaky(), WorkQueue("g"))
    create_widget(widgets, "w1", status="open")  # one delivery and one trigger event
    Delivery.objects.update(created_at=timezone.now() - dt.timedelta(minutes=5))
    TriggerEvent.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))

    health = queue_health()

    assert health["pending"] == 2
    assert health["oldest_pending_seconds"] >= 300

    deliver(Delivery.objects.get().pk)
    health = queue_health()
    assert health["pending"] == 1
    assert 60 <= health["oldest_pending_seconds"] < 300

    dispatch_trigger_event(TriggerEvent.objects.get().pk)
    assert queue_health() == {"pending": 0, "oldest_pending_seconds": 0}


# -- sweeper schedules ------------------------------------------------------------------------


def sweep_schedules() -> list[Schedule]:
    return list(Schedule.objects.filter(name__in=SWEEP_SCHEDULE_NAMES).order_by("name"))


def test_sweeper_schedules_exist_after_migrations() -> None:
    schedules = sweep_schedules()

    assert [s.name for s in schedules] == list(SWEEP_SCHEDULE_NAMES)
    for schedule in schedules:
        assert schedule.func == "checkstack.entities.tasks.sweep"
        assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (
            Schedule.MINUTES,
            1,
            -1,
        )
    offset = (schedules[1].next_run - schedules[0].next_run).total_seconds()
    assert abs(offset) == pytest.approx(30, abs=1)


def test_ensuring_sweeper_schedules_again_does_not_duplicate_them_and_repairs_a_changed_func() -> (
    None
):
    Schedule.objects.filter(name=SWEEP_SCHEDULE_NAMES[0]).update(
        func="somewhere.else", minutes=5, repeats=3
    )

    ensure_sweeper_schedules()
    ensure_sweeper_schedules()

    schedules = sweep_schedules()
    assert [s.name for s in schedules] == list(SWEEP_SCHEDULE_NAMES)
    assert Schedule.objects.filter(func=SWEEP_FUNC).count() == 2
    repaired = schedules[0]
    assert (repaired.func, repaired.minutes, repaired.repeats) == (SWEEP_FUNC, 1, -1)
