"""The scale-out recipe of docs/deployment.md ("Two worker clusters on one PostgreSQL and one
Redis"), run for real: two ``manage.py qcluster`` processes (as on two machines) and two
forked writer processes (as two web machines) share the PostgreSQL test database and one
broker, on Redis and on django-q2's ORM broker (the ``broker`` fixture).

Every delivery must be handled exactly once and, per entity, in ``seq`` order; with Redis both
clusters must take work. A cluster killed in the middle of a delivery loses the tasks it had
taken (Redis does not re-deliver); the sweep re-enqueues the pending rows and another cluster
completes them, still once each.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checkstack.entities import delivery as delivery_service
from checkstack.entities.handle import EntityHandle
from checkstack.entities.models import Delivery, DeliveryStatus, TriggerEvent
from tests.processes import fork_workers, join_all
from tests.qcluster import Broker, cluster_started, running_qcluster, wait_for
from tests.testapp.entity import WidgetState, create_widget
from tests.testapp.models import Record, Widget
from tests.testapp.workers import (
    CLUSTER_LOG_ENV,
    HANG_MARKER_ENV,
    QCLUSTER_GROUP,
    QCLUSTER_SUBSCRIBER_ENV,
    subscribe_change_recorder,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ENTITIES = 12
CHANGES = 8  # per entity: 96 deliveries and 96 trigger events
SETTLE_TIMEOUT = 90.0


def outbox_pending() -> bool:
    return (
        Delivery.objects.filter(status=DeliveryStatus.PENDING).exists()
        or TriggerEvent.objects.filter(dispatched_at__isnull=True).exists()
    )


def write_widgets(handle: EntityHandle[WidgetState], names: list[str]) -> None:
    """What a web process does: entity writes, each enqueueing its tasks after COMMIT. The
    entities are written round-robin, so their changes interleave across both writers."""
    for name in names:
        create_widget(handle, name, status="open")
    for n in range(2, CHANGES + 1):
        for name in names:
            handle.mutate(
                name,
                lambda prev, name=name, n=n: Widget.objects.filter(id=name).update(
                    secret_note=f"note {n}"
                ),
            )


@contextlib.contextmanager
def two_clusters(
    tmp_path: Path, broker: Broker
) -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    """Clusters ``a`` and ``b``, each logging the changes it handled to ``<name>.handled``."""

    def environment(name: str) -> dict[str, str]:
        return {QCLUSTER_SUBSCRIBER_ENV: "1", CLUSTER_LOG_ENV: str(tmp_path / f"{name}.handled")}

    with (
        running_qcluster(tmp_path / "a.log", broker, **environment("a")) as a,
        running_qcluster(tmp_path / "b.log", broker, **environment("b")) as b,
    ):
        yield a, b


def handled_by(tmp_path: Path, name: str) -> list[str]:
    """``<entity>:<seq>`` of each change cluster ``name`` committed, in its order."""
    path = tmp_path / f"{name}.handled"
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def cluster_output(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {name}:\n" + (tmp_path / name).read_text(errors="replace")[-3000:]
        for name in ("a.log", "b.log")
        if (tmp_path / name).exists()
    )


def assert_each_change_handled_once_in_seq_order(names: list[str]) -> None:
    deliveries = Delivery.objects.filter(group=QCLUSTER_GROUP)
    assert deliveries.count() == len(names) * CHANGES
    assert set(deliveries.values_list("status", "attempts")) == {(DeliveryStatus.DONE, 1)}
    # Record keys are change ids (unique: a second run would have failed its attempt); their
    # insertion order (pk) is the order the handlers ran in.
    seq_of = {str(c): (e, s) for c, e, s in deliveries.values_list("change_id", "entity_id", "seq")}
    handled = [seq_of[key] for key in Record.objects.order_by("pk").values_list("key", flat=True)]
    assert len(handled) == len(set(handled)) == len(seq_of)
    for name in names:
        assert [s for e, s in handled if e == name] == list(range(1, CHANGES + 1))


def test_two_clusters_and_two_writers_share_the_broker_each_change_once_in_order(
    widgets: EntityHandle[WidgetState], settings: Any, tmp_path: Path, broker: Broker
) -> None:
    settings.CHECKSTACK_ENQUEUE = True
    subscribe_change_recorder()
    if broker.name == "redis":
        redis_client(broker).config_resetstat()  # counted at the end
    names = [f"w{n}" for n in range(ENTITIES)]
    with two_clusters(tmp_path, broker) as clusters:
        # Both clusters run their workers before the writes start.
        assert wait_for(lambda: all(cluster_started(c) for c in clusters), timeout=30), (
            cluster_output(tmp_path)
        )
        codes = join_all(
            fork_workers(
                [
                    lambda: write_widgets(widgets, names[0::2]),
                    lambda: write_widgets(widgets, names[1::2]),
                ]
            )
        )
        assert codes == [0, 0], "a writer failed"
        settled = wait_for(
            lambda: not outbox_pending() or any(c.poll() is not None for c in clusters),
            timeout=SETTLE_TIMEOUT,
        )
        alive = [c.poll() is None for c in clusters]
    output = cluster_output(tmp_path)
    assert alive == [True, True], output
    assert settled and not outbox_pending(), output

    assert_each_change_handled_once_in_seq_order(names)
    by_a, by_b = handled_by(tmp_path, "a"), handled_by(tmp_path, "b")
    assert sorted(by_a + by_b) == sorted(f"{e}:{s}" for e in names for s in range(1, 1 + CHANGES))
    if broker.name == "redis":
        # Every cluster blocks on the Redis list at once, so both are handed tasks.
        assert by_a and by_b, f"one cluster did all the work: a {len(by_a)}, b {len(by_b)}"
        assert_the_queue_was_redis(broker)


def redis_client(broker: Broker) -> Any:
    import redis

    return redis.Redis.from_url(broker.redis_url)


def assert_the_queue_was_redis(broker: Broker) -> None:
    """The tasks went through Redis (pushed by the writers, popped by the clusters), and none
    through django-q2's ORM queue table."""
    from django_q.models import OrmQ

    stats = redis_client(broker).info("commandstats")
    assert stats.get("cmdstat_rpush", {}).get("calls", 0) >= ENTITIES * CHANGES
    assert stats.get("cmdstat_blpop", {}).get("calls", 0) > 0
    assert not OrmQ.objects.exists()


def test_a_cluster_killed_mid_delivery_loses_nothing_the_sweep_hands_its_work_to_the_other(
    widgets: EntityHandle[WidgetState], settings: Any, tmp_path: Path, broker: Broker
) -> None:
    settings.CHECKSTACK_ENQUEUE = True
    settings.CHECKSTACK_SWEEP_GRACE = 0  # the sweep below re-enqueues at once
    subscribe_change_recorder()
    names = ["k0", "k1", "k2"]
    marker = tmp_path / "hanging"
    with running_qcluster(
        tmp_path / "a.log",
        broker,
        **{QCLUSTER_SUBSCRIBER_ENV: "1", HANG_MARKER_ENV: str(marker)},
    ) as doomed:
        write_widgets(widgets, names)
        assert wait_for(marker.exists, timeout=30), cluster_output(tmp_path)
        # The whole cluster dies (as its machine would): the hanging handler's transaction
        # rolls back, and with Redis the tasks the cluster had taken are gone.
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=15)
    assert outbox_pending()

    with running_qcluster(tmp_path / "b.log", broker, **{QCLUSTER_SUBSCRIBER_ENV: "1"}) as b:
        # What the sweeper schedule does every 30 s (the test does not wait that long).
        done = sweep_until_done(timeout=SETTLE_TIMEOUT)
        alive = b.poll() is None
    assert done, cluster_output(tmp_path)
    assert alive, cluster_output(tmp_path)

    assert_each_change_handled_once_in_seq_order(names)


def sweep_until_done(timeout: float) -> bool:
    """Sweep once a second until nothing is pending (or ``timeout`` passed)."""
    deadline = time.monotonic() + timeout
    while outbox_pending():
        if time.monotonic() > deadline:
            return False
        delivery_service.sweep()
        wait_for(lambda: not outbox_pending(), timeout=1.0)
    return True
