"""``manage.py bench_delivery``: entity delivery through a real qcluster next to raw django-q2.

Starts ``manage.py qcluster`` (2 workers, ORM broker, the configured database) in a subprocess
and measures, with the same cluster in the same run:

1. **raw django-q2**: enqueue → execute latency of no-op ``async_task`` calls sent one at a time
   (the task, ``record_start``, writes ``time.time()`` into a temporary bench table), then the
   throughput of a burst of such calls enqueued as fast as possible;
2. **entity delivery**: COMMIT → handler start latency of ``catalog.services.create_system``
   changes (one delivery to the ``incident-system-cleanup`` work queue, a no-op for a new system,
   and one ``catalog.created`` trigger event each), then the deliveries per second of a burst.

"Handler start" is the delivery's ``finished_at``: ``deliver`` stamps it right after claiming the
row, before the handler runs. Benchmark cleanup: the bench's systems (ids ``bench-delivery-*``)
and their change, transition, trigger event, delivery and sequence rows, the run's queued tasks
and task results, and the bench table are deleted directly at the end (deleting the systems
through ``delete_system`` would log more changes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.test.utils import override_settings

from bench import report
from bench.change_log import Entities, delete_change_log, outbox_jobs
from bench.cluster import Cluster, cluster_facts, wait_until
from bench.facts import database_facts, machine_facts
from bench.queue import delete_task_results, last_queued_task_id, purge_queued_tasks
from bench.stats import from_seconds, latency_summary, rate
from checkstack.entities.models import Delivery, DeliveryStatus, TriggerEvent

COMMAND = "bench_delivery"
RECORD_TASK = "bench.management.commands.bench_delivery.record_start"
BENCH_TABLE = "checkstack_bench_delivery_start"
SYSTEM_KIND = "catalog-system"
SYSTEM_PREFIX = "bench-delivery-"
CLEANUP_GROUP = "incident-system-cleanup"
WORKERS = 2
WARMUP = 10
# The targets: entity p50 / raw p50 at most, entity deliveries/s / raw tasks/s at least.
TARGET_LATENCY_RATIO = 1.2
TARGET_THROUGHPUT_RATIO = 1.0


def record_start(key: str) -> None:
    """The no-op task: note when a worker started it (raw SQL, autocommit)."""
    started = time.time()
    table = connection.ops.quote_name(BENCH_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (k, started) VALUES (%s, %s)", [key, started])


# -- the bench table --------------------------------------------------------------------------


def create_bench_table() -> None:
    table = connection.ops.quote_name(BENCH_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {table} (k VARCHAR(64) PRIMARY KEY, started DOUBLE PRECISION NOT NULL)"
        )


def drop_bench_table() -> None:
    if BENCH_TABLE in connection.introspection.table_names():
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {connection.ops.quote_name(BENCH_TABLE)}")


def starts(prefix: str) -> dict[str, float]:
    """Recorded task starts whose key begins with ``prefix``."""
    table = connection.ops.quote_name(BENCH_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT k, started FROM {table} WHERE k LIKE %s", [f"{prefix}%"])
        return {key: float(started) for key, started in cursor.fetchall()}


# -- the run ----------------------------------------------------------------------------------


class Run:
    """One benchmark run: its ids, what it enqueued and created, and how to remove it all."""

    def __init__(self, *, timeout: float) -> None:
        self.token = uuid.uuid4().hex[:8]
        self.timeout = timeout
        self.queued_before = last_queued_task_id()
        self.task_keys: set[str] = set()
        self.system_count = 0

    # raw django-q2

    def prefix(self, phase: str) -> str:
        return f"bd-{self.token}-{phase}-"

    def key(self, phase: str, n: int) -> str:
        return f"{self.prefix(phase)}{n:05d}"

    def send(self, key: str) -> float:
        from django_q.tasks import async_task

        self.task_keys.add(key)
        t0 = time.time()
        async_task(RECORD_TASK, key, task_name=f"bench-delivery:{key}")
        return t0

    def wait_for_starts(self, prefix: str, count: int, cluster: Cluster) -> dict[str, float]:
        found: dict[str, float] = {}

        def all_started() -> bool:
            found.update(starts(prefix))
            return len(found) >= count

        wait_until(all_started, self.timeout, cluster, f"{count} tasks {prefix}*")
        return found

    def raw_latency(self, n: int, pause: float, cluster: Cluster) -> dict[str, Any]:
        sent: dict[str, float] = {}
        for i in range(n):
            key = self.key("lat", i)
            sent[key] = self.send(key)
            time.sleep(pause)
        started = self.wait_for_starts(self.prefix("lat"), n, cluster)
        return latency_summary(from_seconds(started[k] - t0 for k, t0 in sent.items()), digits=2)

    def raw_throughput(self, n: int, cluster: Cluster) -> dict[str, Any]:
        first = time.time()
        for i in range(n):
            self.send(self.key("tp", i))
        enqueued = time.time()
        started = self.wait_for_starts(self.prefix("tp"), n, cluster)
        return throughput_summary(n, first, enqueued, list(started.values()), "tasks")

    def raw_backlog(self, n: int, cluster: Cluster) -> dict[str, Any]:
        """n no-op tasks enqueued at once (one INSERT); the cluster's rate on that backlog."""
        from checkstack.entities.outbox import enqueue_tasks

        self.drain(cluster)
        keys = [self.key("bl", i) for i in range(n)]
        self.task_keys.update(keys)
        enqueue_tasks([(RECORD_TASK, key) for key in keys])
        enqueued = time.time()
        started = self.wait_for_starts(self.prefix("bl"), n, cluster)
        return backlog_summary(n, enqueued, list(started.values()), "tasks")

    # entity delivery

    def system_id(self) -> str:
        system_id = f"{SYSTEM_PREFIX}{self.token}-{self.system_count:05d}"
        self.system_count += 1
        return system_id

    def create_timed(self, committed: dict[str, float]) -> str:
        """``create_system`` in an outer transaction whose first commit hook notes the time."""
        from catalog.services import create_system

        system_id = self.system_id()
        with transaction.atomic():
            transaction.on_commit(lambda: committed.__setitem__(system_id, time.time()))
            create_system(id=system_id, name=f"Bench delivery {system_id}")
        return system_id

    def handled(self, system_ids: list[str], cluster: Cluster) -> dict[str, float]:
        """Wait until every delivery of ``system_ids`` is finished; its claim time by system."""
        deliveries = Delivery.objects.filter(
            kind=SYSTEM_KIND, group=CLEANUP_GROUP, entity_id__in=system_ids
        )

        def finished() -> bool:
            return not deliveries.filter(status=DeliveryStatus.PENDING).exists()

        if deliveries.count() != len(system_ids):
            raise CommandError(
                f"expected one {CLEANUP_GROUP!r} delivery per change, found "
                f"{deliveries.count()} for {len(system_ids)}: is the incidents app installed?"
            )
        wait_until(finished, self.timeout, cluster, f"{len(system_ids)} deliveries")
        failed = deliveries.exclude(status=DeliveryStatus.DONE).count()
        if failed:
            raise CommandError(f"{failed} bench deliveries did not succeed")
        return {
            entity_id: finished_at.timestamp()
            for entity_id, finished_at in deliveries.values_list("entity_id", "finished_at")
            if finished_at is not None  # done rows always have it
        }

    def entity_latency(self, n: int, pause: float, cluster: Cluster) -> dict[str, Any]:
        committed: dict[str, float] = {}
        ids = []
        for _ in range(n):
            ids.append(self.create_timed(committed))
            time.sleep(pause)
        handled = self.handled(ids, cluster)
        return latency_summary(from_seconds(handled[i] - committed[i] for i in ids), digits=2)

    def entity_throughput(self, n: int, cluster: Cluster) -> dict[str, Any]:
        from catalog.services import create_system

        committed: dict[str, float] = {}
        ids = [self.create_timed(committed)]
        for _ in range(n - 1):
            system_id = self.system_id()
            create_system(id=system_id, name=f"Bench delivery {system_id}")
            ids.append(system_id)
        enqueued = time.time()
        handled = self.handled(ids, cluster)
        first = committed[ids[0]]
        return throughput_summary(n, first, enqueued, list(handled.values()), "deliveries")

    def entity_backlog(self, n: int, cluster: Cluster) -> dict[str, Any]:
        """n changes committed while enqueueing is off, then all their tasks enqueued at once
        (as after-commit would have, in one go); the cluster's rate on that backlog."""
        from catalog.services import create_system
        from checkstack.entities.outbox import enqueue

        ids = []
        self.drain(cluster)  # idle: no task is left whose drain could take the new rows
        # One transaction: the cluster sees none of the rows before they are all committed.
        with override_settings(CHECKSTACK_ENQUEUE=False), transaction.atomic():
            for _ in range(n):
                system_id = self.system_id()
                create_system(id=system_id, name=f"Bench delivery {system_id}")
                ids.append(system_id)
        deliveries = Delivery.objects.filter(kind=SYSTEM_KIND, entity_id__in=ids)
        events = TriggerEvent.objects.filter(change__kind=SYSTEM_KIND, change__entity_id__in=ids)
        enqueue(
            list(deliveries.values_list("pk", flat=True)), list(events.values_list("pk", flat=True))
        )
        enqueued = time.time()
        handled = self.handled(ids, cluster)
        return backlog_summary(n, enqueued, list(handled.values()), "deliveries")

    def warm_up(self, cluster: Cluster) -> None:
        """Until the cluster runs tasks; then a few of each kind, not measured."""
        first = self.key("warm", 0)
        self.send(first)
        self.wait_for_starts(first, 1, cluster)
        for i in range(1, WARMUP + 1):
            self.send(self.key("warm", i))
        self.handled([self.create_timed({}) for _ in range(WARMUP)], cluster)
        self.wait_for_starts(self.prefix("warm"), WARMUP + 1, cluster)

    def drain(self, cluster: Cluster) -> None:
        """Until the cluster took every queued task of the run and dispatched its events."""
        from django_q.models import OrmQ

        def drained() -> bool:
            return not (
                OrmQ.objects.filter(pk__gt=self.queued_before).exists()
                or TriggerEvent.objects.filter(
                    change__kind=SYSTEM_KIND,
                    change__entity_id__startswith=SYSTEM_PREFIX,
                    dispatched_at__isnull=True,
                ).exists()
            )

        wait_until(drained, self.timeout, cluster, "the cluster to drain the queue")


def purge_bench_rows(queued_after: int = 0, task_keys: set[str] | None = None) -> dict[str, int]:
    """Benchmark cleanup: delete every row the bench systems made, directly (no new changes)."""
    from catalog.models import System

    entities = [Entities(SYSTEM_KIND, prefix=SYSTEM_PREFIX)]
    outbox = outbox_jobs(entities)
    recorded = {(RECORD_TASK, key) for key in task_keys or ()}
    counts = {
        "queued_tasks": purge_queued_tasks(outbox | recorded, queued_after),
        "task_results": delete_task_results(outbox, funcs=[RECORD_TASK]),
    }
    counts.update(delete_change_log(entities))
    counts["systems"] = System.objects.filter(id__startswith=SYSTEM_PREFIX).delete()[0]
    return counts


# -- figures ----------------------------------------------------------------------------------


def throughput_summary(
    n: int, first: float, enqueued: float, done: list[float], unit: str
) -> dict[str, Any]:
    """Rate from the first send to the last start; also the producer's rate, and the drain rate
    after the producer finished (None when the cluster kept up with it)."""
    last = max(done)
    backlog = [t for t in done if t > enqueued]
    return {
        "n": n,
        f"{unit}_per_s": rate(n, last - first),
        "seconds": round(last - first, 3),
        "producer_per_s": rate(n, enqueued - first),
        "backlog_after_producer": len(backlog),
        "drain_per_s": rate(len(backlog), last - enqueued) if len(backlog) > 1 else None,
    }


def backlog_summary(n: int, enqueued: float, done: list[float], unit: str) -> dict[str, Any]:
    """Rate from the moment the whole backlog was enqueued to the last start."""
    seconds = max(done) - enqueued
    return {"n": n, f"{unit}_per_s": rate(n, seconds), "seconds": round(seconds, 3)}


@contextlib.contextmanager
def enqueue_on() -> Iterator[None]:
    with override_settings(CHECKSTACK_ENQUEUE=True):
        yield


def run_benchmark(
    *, latency_n: int, throughput_n: int, pause: float, timeout: float
) -> dict[str, Any]:
    if connection.in_atomic_block:
        raise CommandError("bench_delivery commits for real: run it outside atomic()")
    purge_bench_rows()  # leftovers of a run that crashed
    drop_bench_table()
    create_bench_table()
    run = Run(timeout=timeout)
    cluster: Cluster | None = None
    try:
        with enqueue_on():
            cluster = Cluster(workers=WORKERS, command=COMMAND)
            run.warm_up(cluster)
            raw = {
                "latency": run.raw_latency(latency_n, pause, cluster),
                "throughput": run.raw_throughput(throughput_n, cluster),
                "backlog": run.raw_backlog(throughput_n, cluster),
            }
            entity = {
                "latency": run.entity_latency(latency_n, pause, cluster),
                "throughput": run.entity_throughput(throughput_n, cluster),
                "backlog": run.entity_backlog(throughput_n, cluster),
            }
            run.drain(cluster)
    finally:
        try:
            if cluster is not None:
                cluster.stop()
        finally:
            cleanup = purge_bench_rows(run.queued_before, run.task_keys)
            drop_bench_table()
    return summarize(raw, entity, cleanup, latency_n, throughput_n, pause)


def summarize(
    raw: dict[str, Any],
    entity: dict[str, Any],
    cleanup: dict[str, int],
    latency_n: int,
    throughput_n: int,
    pause: float,
) -> dict[str, Any]:
    latency_ratio = round(entity["latency"]["p50_ms"] / raw["latency"]["p50_ms"], 2)
    # Sustained rates: the same cluster draining the same size of backlog, enqueued at once on
    # both sides (with a producer, the entity side is capped by create_system's own rate).
    throughput_ratio = round(
        entity["backlog"]["deliveries_per_s"] / raw["backlog"]["tasks_per_s"], 2
    )
    return {
        "database": database_facts(),
        "machine": machine_facts(),
        "cluster": cluster_facts(WORKERS),
        "run": {
            "latency_n": latency_n,
            "throughput_n": throughput_n,
            "pause_ms": round(pause * 1000, 1),
            "warmup": WARMUP,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        "raw": raw,
        "entity": entity,
        "ratio": {"latency_p50": latency_ratio, "throughput": throughput_ratio},
        "target": {
            "latency_p50_max": TARGET_LATENCY_RATIO,
            "latency_met": latency_ratio <= TARGET_LATENCY_RATIO,
            "throughput_min": TARGET_THROUGHPUT_RATIO,
            "throughput_met": throughput_ratio >= TARGET_THROUGHPUT_RATIO,
        },
        "cleanup": cleanup,
    }


def report_of(results: dict[str, Any]) -> list[report.Block]:
    db, machine, run, cluster = (
        results["database"],
        results["machine"],
        results["run"],
        results["cluster"],
    )
    raw, entity, ratio, target = (
        results["raw"],
        results["entity"],
        results["ratio"],
        results["target"],
    )

    def verdict(met: bool) -> str:
        return "MET" if met else "MISSED"

    table = report.Table(
        [
            report.Column("", left=True),
            report.Column("p50 ms", ".1f"),
            report.Column("p99 ms", ".1f"),
            report.Column("max ms", ".1f"),
            report.Column("per s", ".1f"),
            report.Column("sent/s", ".1f"),
            report.Column("drain/s", ".1f"),
        ]
    )
    for label, part, unit in (
        ("raw django-q2 (enqueue->execute)", raw, "tasks_per_s"),
        ("entity (COMMIT->handler start)", entity, "deliveries_per_s"),
    ):
        lat, tp = part["latency"], part["throughput"]
        table.add(
            label,
            lat["p50_ms"],
            lat["p99_ms"],
            lat["max_ms"],
            tp[unit],
            tp["producer_per_s"],
            tp["drain_per_s"],
        )
    return [
        f"bench_delivery on {db['vendor']} {db['version']}, broker: {db['broker']}",
        f"qcluster: {cluster['workers']} workers, poll {cluster['poll_s']} s, "
        f"bulk {cluster['bulk']}, save_limit {cluster['save_limit']}",
        f"Python {machine['python']}, {machine['cpus']} CPUs, load {machine['load_average']}",
        f"latency: {run['latency_n']} sent one at a time, {run['pause_ms']} ms apart; "
        f"throughput: {run['throughput_n']} sent as fast as possible",
        "",
        table,
        "per s: n / (first send -> last start); sent/s: the producer; drain/s: starts after the "
        "producer finished / the time they took (the cluster's own rate under a backlog)",
        "",
        f"backlog of {run['throughput_n']} enqueued at once: raw "
        f"{raw['backlog']['tasks_per_s']:.1f} tasks/s, entity "
        f"{entity['backlog']['deliveries_per_s']:.1f} deliveries/s",
        "",
        f"entity p50 / raw p50: {ratio['latency_p50']:.2f}x (target <= "
        f"{target['latency_p50_max']}x) -> {verdict(target['latency_met'])}",
        f"sustained entity deliveries/s / raw tasks/s (backlog): {ratio['throughput']:.2f}x "
        f"(target >= {target['throughput_min']}x) -> {verdict(target['throughput_met'])}",
        report.cleanup_line(results["cleanup"], extra=", bench table dropped"),
    ]


class Command(BaseCommand):
    help = (
        "Start a qcluster with 2 workers and measure raw django-q2 enqueue->execute latency and "
        "throughput next to entity COMMIT->handler latency and deliveries per second, on the "
        "current database. Deletes everything it created."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--latency-n", type=int, default=300, help="Paced tasks/changes.")
        parser.add_argument(
            "--throughput-n", type=int, default=2000, help="Tasks/changes sent in a burst."
        )
        parser.add_argument(
            "--pause-ms", type=float, default=20.0, help="Pause between paced sends."
        )
        parser.add_argument(
            "--timeout", type=float, default=300.0, help="Seconds to wait for each phase."
        )
        report.add_output_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["latency_n"] < 1 or options["throughput_n"] < 1 or options["pause_ms"] < 0:
            raise CommandError("--latency-n and --throughput-n must be positive")
        results = run_benchmark(
            latency_n=options["latency_n"],
            throughput_n=options["throughput_n"],
            pause=options["pause_ms"] / 1000,
            timeout=options["timeout"],
        )
        report.write(self.stdout, results, report_of, options)
