"""``manage.py bench_entities``: what an entity write costs next to a plain ORM update.

Measures on the configured database (a) ``filter(pk=...).update(...)`` of one row in autocommit
and (b) the same domain write through ``EntityHandle.mutate`` (entity lock, prev read, apply,
next read, change + transition + trigger-event rows, after-commit enqueue and notification) on
incident-shaped bench tables; (c), the same as (b) with ``CHECKSTACK_ENQUEUE`` off, shows what
the after-commit enqueue adds; (d) replays (b)'s statements with their recorded parameters and
nothing else (see ``StatementReplay``): what the protocol's statements cost by themselves, so
(b) - (d) is the entity layer's Python. The peers (``bench.peers``) are what a user would build
instead, measured in the same run: (p1) ``save()`` + django-simple-history +
``on_commit(async_task)``, (p2) ``save()`` + a hand-made outbox row + ``on_commit(async_task)``,
(p3) on PostgreSQL ``save()`` + a django-pghistory trigger + ``on_commit(async_task)``; a peer
whose library (bench/requirements.txt) is missing is left out with a note. The tables live in
an isolated app registry, so they never reach migrations; they, the temporary ``bench-item``
kind and trigger, every log row and every queued task of the run are removed at the end, so the
command can run against a production database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.apps.registry import Apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from pydantic import BaseModel, Field

from bench import peers as bench_peers
from bench import report
from bench.change_log import Entities, delete_change_log, outbox_jobs
from bench.facts import database_facts, machine_facts
from bench.queue import last_queued_task_id, purge_queued_tasks
from bench.stats import latency_summary, ops_per_second
from checkstack.automation import registry as automation_registry
from checkstack.entities import EntityChange, EntityHandle, define_entity
from checkstack.entities import registry as entity_registry
from checkstack.entities.models import Change, TriggerEvent
from checkstack.entities.sql import LinkedRowsRead, execute

KIND = "bench-item"
TRIGGER = "bench.item.updated"
BENCH_ACTOR = {"type": "system", "id": "bench-entities", "name": "bench_entities"}
SEVERITIES = ("major", "critical")
SYSTEMS_PER_ITEM = 3
# The measured writes alternate in blocks, so drift of a shared machine hits all of them alike.
BLOCK = 50
PROFILED_WRITES = 200
# The targets for (b)/(a).
TARGET_RATIO = {"postgresql": 3.0, "sqlite": 5.0}
# Issue 18's targets: (b) against the simple-history peer and against its own statements.
PEER_TARGETS = {"b/p1": 1.0, "b/d": 1.25}

bench_apps = Apps()


class BenchItem(models.Model):
    """Incident-shaped row: the reactive fields plus columns the entity state leaves out."""

    id = models.CharField(primary_key=True, max_length=64)
    status = models.CharField(max_length=20)
    severity = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    updated_at = models.DateTimeField()

    objects: models.Manager[BenchItem] = models.Manager()

    class Meta:
        apps = bench_apps
        app_label = "checkstack_bench"
        db_table = "checkstack_bench_item"

    def __str__(self) -> str:
        return self.id


class BenchItemSystem(models.Model):
    """The linked ids of an item, like an incident's systems."""

    item = models.ForeignKey(BenchItem, on_delete=models.CASCADE, related_name="systems")
    item_id: str  # the stubs' plugin does not see models outside the global app registry
    system_id = models.CharField(max_length=64)

    objects: models.Manager[BenchItemSystem] = models.Manager()

    class Meta:
        apps = bench_apps
        app_label = "checkstack_bench"
        db_table = "checkstack_bench_item_system"
        constraints = [
            models.UniqueConstraint(
                fields=["item", "system_id"], name="checkstack_bench_item_system_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.item_id} -> {self.system_id}"


BENCH_MODELS: tuple[type[models.Model], ...] = (BenchItem, BenchItemSystem)


class BenchItemState(BaseModel):
    status: str
    severity: str
    systemIds: list[str] = Field(default_factory=list)


class BenchItemPayload(BaseModel):
    itemId: str
    status: str
    severity: str
    systemIds: list[str]
    previousSeverity: str | None = None


# Batched read, like the incident kind's: one query for the rows and their linked ids.
read_items = LinkedRowsRead(
    BenchItem, ("status", "severity"), BenchItemSystem, "item", "system_id", linked_as="systemIds"
)


def derive_item_events(change: EntityChange) -> list[str]:
    return [TRIGGER] if change.next is not None else []


def item_payload(change: EntityChange) -> dict[str, Any]:
    state = change.next or change.prev or {}
    payload: dict[str, Any] = {
        "itemId": change.entity_id,
        "status": state.get("status"),
        "severity": state.get("severity"),
        "systemIds": state.get("systemIds") or [],
    }
    if "severity" in change.changed_fields and change.prev is not None:
        payload["previousSeverity"] = change.prev.get("severity")
    return payload


def register_bench_kind() -> EntityHandle[BenchItemState]:
    """Define ``bench-item`` and its trigger (call between registry snapshot and restore)."""
    automation_registry.register_trigger(
        TRIGGER,
        "Bench item updated",
        "Emitted by manage.py bench_entities for every write of a bench item.",
        "Benchmarks",
        BenchItemPayload,
        context_key=lambda payload: payload["itemId"],
    )
    handle = define_entity(kind=KIND, state=BenchItemState, read=read_items)
    entity_registry.register_change_deriver(KIND, derive_item_events, item_payload, emits=[TRIGGER])
    return handle


def other_severity(severity: str) -> str:
    return SEVERITIES[1] if severity == SEVERITIES[0] else SEVERITIES[0]


# -- the writes under test -------------------------------------------------------------------


class PlainWriter:
    """(a): one ``UPDATE`` in autocommit; severities are tracked here to alternate them."""

    def __init__(self, item_ids: list[str]) -> None:
        self.item_ids = item_ids
        self.severity = dict.fromkeys(item_ids, SEVERITIES[0])

    def __call__(self, i: int) -> None:
        item_id = self.item_ids[i % len(self.item_ids)]
        severity = other_severity(self.severity[item_id])
        update_item(item_id, severity)
        self.severity[item_id] = severity


class EntityWriter:
    """(b): the same update as the ``apply`` of ``handle.mutate``; every write logs a change."""

    def __init__(self, handle: EntityHandle[BenchItemState], item_ids: list[str]) -> None:
        self.handle = handle
        self.item_ids = item_ids

    def __call__(self, i: int) -> None:
        item_id = self.item_ids[i % len(self.item_ids)]

        def apply(prev: BenchItemState | None) -> None:
            if prev is None:
                raise CommandError(f"bench item {item_id} vanished during the run")
            update_item(item_id, other_severity(prev.severity))

        self.handle.mutate(item_id, apply, actor=BENCH_ACTOR)


def update_item(item_id: str, severity: str) -> None:
    """The domain write of (a), (b), (c) and (d)."""
    BenchItem.objects.filter(pk=item_id).update(severity=severity, updated_at=timezone.now())


@dataclasses.dataclass(frozen=True)
class Step:
    """One statement of a recorded write; ``severity`` set: the apply's ORM update."""

    sql: str = ""
    params: Any = None
    many: bool = False
    after_commit: bool = False
    item_id: str = ""
    severity: str = ""


class StatementRecorder:
    """Execute wrapper that records the statements of entity writes as ``Step``s (not their
    BEGIN: the replay's own transaction sends that)."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.paused = False

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        # not the transaction's own BEGIN (SQLite's BEGIN IMMEDIATE goes through a cursor)
        if not self.paused and sql.lstrip()[:5].upper() != "BEGIN":
            after = not connection.in_atomic_block
            self.steps.append(Step(sql, list(params) if many else params, many, after))
        return execute(sql, params, many, context)


class StatementReplay:
    """(d): the statements of (b)'s writes alone, without the entity layer around them.

    ``record`` makes real entity writes of its own items (untimed, with a ``StatementRecorder``)
    and then puts the database back as it was before them: their log, outbox and queue rows
    and sequence rows deleted, the items' severity reset. A replayed write then sends exactly
    what the recorded write sent, with the same parameters and in the same transaction:
    BEGIN, the entity core's statements with the apply (the same ORM update) in its place,
    COMMIT, then the after-commit statements. Nothing runs between them but the loop, so
    (d) is what the protocol's statements cost on this database, and (b) - (d) is what the
    entity layer's Python adds.
    """

    def __init__(self, handle: EntityHandle[BenchItemState], item_ids: list[str]) -> None:
        self.handle = handle
        self.item_ids = item_ids
        self.writes: list[list[Step]] = []
        self.replayed = 0

    def record(self, count: int) -> None:
        queued_before = last_queued_task_id()
        severity = dict.fromkeys(self.item_ids, SEVERITIES[0])
        recorder = StatementRecorder()
        with connection.execute_wrapper(recorder):
            for i in range(count):
                item_id = self.item_ids[i % len(self.item_ids)]
                new_severity = other_severity(severity[item_id])

                def apply(
                    prev: BenchItemState | None, item_id: str = item_id, new: str = new_severity
                ) -> None:
                    recorder.steps.append(Step(item_id=item_id, severity=new))
                    recorder.paused = True
                    try:
                        update_item(item_id, new)
                    finally:
                        recorder.paused = False

                recorder.steps = []
                self.handle.mutate(item_id, apply, actor=BENCH_ACTOR)
                self.writes.append(recorder.steps)
                severity[item_id] = new_severity
        purge_bench_rows(queued_after=queued_before, entity_ids=self.item_ids)
        BenchItem.objects.filter(pk__in=self.item_ids).update(severity=SEVERITIES[0])

    def __call__(self, i: int) -> None:
        if i >= len(self.writes):
            raise CommandError(f"write {i} was not recorded ({len(self.writes)} were)")
        if i != self.replayed:
            raise CommandError(f"write {i} replayed out of order: write {self.replayed} is next")
        steps = self.writes[i]
        with transaction.atomic():
            for step in steps:
                if step.severity:
                    update_item(step.item_id, step.severity)
                elif not step.after_commit:
                    execute(step.sql, step.params, many=step.many)
        for step in steps:
            if step.after_commit:
                execute(step.sql, step.params, many=step.many)
        self.replayed += 1


@contextlib.contextmanager
def enqueue_switch(enqueue: bool) -> Iterator[None]:
    """``CHECKSTACK_ENQUEUE`` off for (c); the configured value otherwise."""
    if enqueue:
        yield
    else:
        with override_settings(CHECKSTACK_ENQUEUE=False):
            yield


# -- measuring -------------------------------------------------------------------------------


_WRITE = re.compile(r'(INSERT INTO|(?<!DO )UPDATE|DELETE FROM)\s+"?([\w.]+)"?', re.IGNORECASE)
_READ = re.compile(r'\bFROM\s+"?([\w.]+)"?\s*(\()?', re.IGNORECASE)
_CTE_NAME = re.compile(r"(?:WITH|,)\s+(\w+)\s+AS\s+\(", re.IGNORECASE)


def describe_sql(sql: str) -> str:
    """``INSERT entities_change``: the verb and the table of a statement. A statement with
    data-modifying CTEs lists its writes, then the tables it only reads:
    ``WITH: INSERT entities_entitysequence; SELECT checkstack_bench_item``."""
    text = " ".join(sql.split())
    if text[:5].upper() == "WITH ":
        writes = list(
            dict.fromkeys(f"{m[1].split()[0].upper()} {m[2]}" for m in _WRITE.finditer(text))
        )
        skip = {label.split()[1] for label in writes} | set(_CTE_NAME.findall(text))
        tables = (m[1] for m in _READ.finditer(text) if not m[2])  # not a function's rows
        reads = [t for t in dict.fromkeys(tables) if t not in skip]
        return "WITH: " + "; ".join(writes + ([f"SELECT {', '.join(reads)}"] if reads else []))
    write = _WRITE.match(text)
    if write:
        return f"{write[1].split()[0].upper()} {write[2]}"
    read = re.match(r'SELECT\b.*?\bFROM\s+"?([\w.]+)"?', text, re.IGNORECASE)
    if read:
        return f"SELECT {read[1]}"
    return text[:60]


class DriverClock:
    """Times what writes spend in the database driver: statements, COMMIT, connection events.

    Statements are timed by position within a write (so the prev and next reads show apart);
    the connection's own methods are wrapped on the instance for the duration of the block.
    """

    CONNECTION_EVENTS = {
        "_commit": "COMMIT",
        "is_usable": "connection health check (SELECT 1)",
        "close": "connection close",
        "connect": "connection open (connect + init)",
    }

    def __init__(self) -> None:
        self.statements: dict[int, list[int]] = {}
        self.labels: dict[int, str] = {}
        self.events: dict[str, list[int]] = {}
        self.hooks: list[int] = []
        self.position = 0

    def _execute(self, execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        t0 = time.perf_counter_ns()
        try:
            return execute(sql, *args)
        finally:
            self.statements.setdefault(self.position, []).append(time.perf_counter_ns() - t0)
            self.labels.setdefault(self.position, describe_sql(sql))
            self.position += 1

    def _wrap(self, method: Callable[..., Any], into: list[int]) -> Callable[..., Any]:
        def timed_method(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter_ns()
            try:
                return method(*args, **kwargs)
            finally:
                into.append(time.perf_counter_ns() - t0)

        return timed_method

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        wrapper = connections[DEFAULT_DB_ALIAS]
        names = [*self.CONNECTION_EVENTS, "run_and_clear_commit_hooks"]
        for name, label in self.CONNECTION_EVENTS.items():
            setattr(
                wrapper, name, self._wrap(getattr(wrapper, name), self.events.setdefault(label, []))
            )
        wrapper.run_and_clear_commit_hooks = self._wrap(  # type: ignore[method-assign]
            wrapper.run_and_clear_commit_hooks, self.hooks
        )
        try:
            with wrapper.execute_wrapper(self._execute):
                yield
        finally:
            for name in names:
                wrapper.__dict__.pop(name, None)  # back to the class's methods

    def count(self, label: str) -> int:
        return len(self.events.get(label, ()))


def breakdown_of(clock: DriverClock, totals: list[int]) -> dict[str, Any]:
    """Mean time per statement, COMMIT, connection event and Python over the timed writes."""
    count = len(totals)
    rows: list[dict[str, Any]] = [
        {"part": clock.labels[pos], "per_write": len(ns) / count, "mean_ms": sum(ns) / count / 1e6}
        for pos, ns in sorted(clock.statements.items())
    ]
    rows += [
        {"part": label, "per_write": len(ns) / count, "mean_ms": sum(ns) / count / 1e6}
        for label, ns in clock.events.items()
        if ns
    ]
    total_ms = sum(totals) / count / 1e6
    in_driver = sum(row["mean_ms"] for row in rows)
    rows.append(
        {"part": "Python (everything else)", "per_write": 1.0, "mean_ms": total_ms - in_driver}
    )
    for row in rows:
        row["share"] = round(row["mean_ms"] / total_ms, 3) if total_ms else 0.0
        row["mean_ms"] = round(row["mean_ms"], 4)
        row["per_write"] = round(row["per_write"], 2)
    return {
        "writes": count,
        "total_ms": round(total_ms, 4),
        "after_commit_hooks_ms": round(sum(clock.hooks) / count / 1e6, 4),
        "parts": rows,
    }


@dataclasses.dataclass
class Measurement:
    """One kind of write: its latency samples, round trips and time breakdown."""

    label: str
    write: Callable[[int], None]
    enqueue: bool = True
    item_ids: list[str] = dataclasses.field(default_factory=list)
    log: Callable[[], dict[str, int]] | None = None  # a peer's own rows, counted
    key: str = ""
    writes: int = 0
    samples_ns: list[int] = dataclasses.field(default_factory=list)
    statements: list[str] = dataclasses.field(default_factory=list)
    hidden: list[str] = dataclasses.field(default_factory=list)
    breakdown: dict[str, Any] = dataclasses.field(default_factory=dict)

    def run(self, start: int, count: int, into: list[int] | None = None) -> None:
        """Writes ``start`` .. ``start + count - 1``, each timed into ``into`` (the samples)."""
        samples = self.samples_ns if into is None else into
        clock, write = time.perf_counter_ns, self.write
        with enqueue_switch(self.enqueue):
            for i in range(start, start + count):
                t0 = clock()
                write(i)
                samples.append(clock() - t0)
        self.writes += count

    def count_round_trips(self, i: int) -> None:
        """Capture the statements of one more write, and the round trips the capture misses."""
        clock = DriverClock()
        with (
            enqueue_switch(self.enqueue),
            clock.installed(),
            CaptureQueriesContext(connection) as captured,
        ):
            self.write(i)
        self.writes += 1
        self.statements = [q["sql"] for q in captured.captured_queries]
        self.hidden = hidden_round_trips(self.statements, clock)

    def profile(self, start: int, count: int) -> None:
        """Time the driver calls of ``count`` more writes one by one (see ``DriverClock``)."""
        clock = DriverClock()
        totals: list[int] = []
        with enqueue_switch(self.enqueue), clock.installed():
            for i in range(start, start + count):
                clock.position = 0
                t0 = time.perf_counter_ns()
                self.write(i)
                totals.append(time.perf_counter_ns() - t0)
        self.writes += count
        self.breakdown = breakdown_of(clock, totals)

    def logged(self) -> dict[str, int] | None:
        """Changes and trigger events the entity writes logged, the rows a peer logged (None
        for the plain update)."""
        if self.log is not None:
            return self.log()
        if not self.item_ids:
            return None
        return {
            "changes": Change.objects.filter(kind=KIND, entity_id__in=self.item_ids).count(),
            "trigger_events": TriggerEvent.objects.filter(
                change__kind=KIND, change__entity_id__in=self.item_ids, event=TRIGGER
            ).count(),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            **({"key": self.key} if self.key else {}),
            **latency_summary(self.samples_ns, digits=4),
            "ops_per_s": round(ops_per_second(self.samples_ns), 1),
            "statements": len(self.statements),
            "hidden_round_trips": list(self.hidden),
            "round_trips": len(self.statements) + len(self.hidden),
            "sql": list(self.statements),
            "breakdown": self.breakdown,
            "writes": self.writes,
            "logged": self.logged(),
        }


def hidden_round_trips(statements: list[str], clock: DriverClock) -> list[str]:
    """What the database sees that ``CaptureQueriesContext`` does not.

    Django (4.2+) logs BEGIN and COMMIT as queries; older versions did not, so add them when
    missing. Connection health checks run on the raw cursor and are never logged.
    """
    hidden: list[str] = []
    upper = [sql.strip().upper() for sql in statements]
    if clock.count("COMMIT") and "COMMIT" not in upper:
        hidden.append("COMMIT")
        if connection.vendor == "postgresql" and "BEGIN" not in upper:
            hidden.insert(0, "BEGIN")
    hidden += ["SELECT 1 (connection health check)"] * clock.count(
        "connection health check (SELECT 1)"
    )
    if connection.vendor != "sqlite":
        hidden += ["connect"] * clock.count("connection open (connect + init)")
    return hidden


# -- setup and cleanup -----------------------------------------------------------------------


def drop_bench_tables() -> None:
    tables = set(connection.introspection.table_names())
    leftovers = [m for m in reversed(BENCH_MODELS) if m._meta.db_table in tables]
    if leftovers:
        with connection.schema_editor() as editor:
            for model in leftovers:
                editor.delete_model(model)


def create_bench_tables() -> None:
    with connection.schema_editor() as editor:
        for model in BENCH_MODELS:
            editor.create_model(model)


def purge_bench_rows(
    *, queued_after: int = 0, entity_ids: list[str] | None = None
) -> dict[str, int]:
    """Delete every log, outbox and queue row of the bench kind (of ``entity_ids`` only, when
    given); returns how many of each."""
    entities = [Entities(KIND, ids=entity_ids)]
    queued = purge_queued_tasks(outbox_jobs(entities), queued_after)
    return {"queued_tasks": queued, **delete_change_log(entities)}


def seed_items(prefix: str, count: int) -> list[str]:
    ids = bench_peers.seed_peer_items(BenchItem, prefix, count)
    BenchItemSystem.objects.bulk_create(
        BenchItemSystem(item_id=item_id, system_id=f"system-{(n * 7 + k) % 97:03d}")
        for n, item_id in enumerate(ids)
        for k in range(SYSTEMS_PER_ITEM)
    )
    return ids


class Command(BaseCommand):
    help = (
        "Measure ops/s and p50/p99 latency of a plain ORM update (autocommit) and of the same "
        "write through the entity handle (lock, prev read, change log, trigger event) on the "
        "current database, with SQL round trips per write. Leaves no rows or tables behind."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--iterations", type=int, default=2000, help="Measured writes of each kind."
        )
        parser.add_argument(
            "--warmup", type=int, default=200, help="Unmeasured writes of each kind first."
        )
        parser.add_argument(
            "--items", type=int, default=50, help="Rows the writes go to, round-robin."
        )
        report.add_output_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        iterations, warmup, items = options["iterations"], options["warmup"], options["items"]
        if iterations < 1 or warmup < 0 or items < 1:
            raise CommandError("--iterations and --items must be positive, --warmup not negative")
        if connection.in_atomic_block:
            raise CommandError("bench_entities measures autocommit writes: run it outside atomic()")
        results = run_benchmark(iterations=iterations, warmup=warmup, items=items)
        report.write(self.stdout, results, report_of, options)


def run_benchmark(*, iterations: int, warmup: int, items: int) -> dict[str, Any]:
    entities_state = entity_registry.snapshot()
    automation_state = automation_registry.snapshot()
    frozen = False
    queued_before = last_queued_task_id()
    peers, skipped = bench_peers.available_peers(connection.vendor)
    try:
        drop_bench_tables()
        bench_peers.drop_peer_tables(peers)
        purge_bench_rows()  # leftovers of a run that crashed
        bench_peers.purge_peer_tasks()
        create_bench_tables()
        bench_peers.create_peer_tables(peers)
        handle = register_bench_kind()
        plain = PlainWriter(seed_items("plain", items))
        entity = EntityWriter(handle, seed_items("entity", items))
        quiet = EntityWriter(handle, seed_items("quiet", items))
        replay = StatementReplay(handle, seed_items("replay", items))
        profiled = min(PROFILED_WRITES, iterations)
        replay.record(warmup + iterations + 1 + profiled)  # each write is replayed once
        runs = [
            Measurement("(a) plain update, autocommit", plain),
            Measurement("(b) entity write, handle.mutate", entity, item_ids=entity.item_ids),
            Measurement(
                "(c) = (b) with CHECKSTACK_ENQUEUE off",
                quiet,
                enqueue=False,
                item_ids=quiet.item_ids,
            ),
            Measurement(
                "(d) = (b)'s statements alone, replayed",
                replay,
                item_ids=replay.item_ids,
            ),
        ]
        runs += [
            Measurement(
                peer.label,
                bench_peers.PeerWriter(
                    peer, bench_peers.seed_peer_items(peer.item_model, peer.key, items)
                ),
                log=peer.logged,
                key=peer.key,
            )
            for peer in peers
        ]
        warm: list[int] = []
        for start in range(0, warmup, BLOCK):
            for measurement in runs:
                measurement.run(start, min(BLOCK, warmup - start), into=warm)
        gc.collect()
        gc.freeze()  # architecture.md: collector pauses made the p99 in the prototype
        frozen = True
        end = warmup + iterations
        for start in range(warmup, end, BLOCK):
            for measurement in runs:
                measurement.run(start, min(BLOCK, end - start))
        for measurement in runs:
            measurement.count_round_trips(end)
            measurement.profile(end + 1, profiled)
        return summarize(
            runs, iterations=iterations, warmup=warmup, items=items, peers_skipped=skipped
        )
    finally:
        if frozen:
            gc.unfreeze()
        try:
            purge_bench_rows(queued_after=queued_before)
            bench_peers.purge_peer_tasks(queued_before)
            drop_bench_tables()
            bench_peers.drop_peer_tables(peers)
        finally:
            entity_registry.restore(entities_state)
            automation_registry.restore(automation_state)


def summarize(
    measurements: list[Measurement],
    *,
    iterations: int,
    warmup: int,
    items: int,
    peers_skipped: dict[str, str] | None = None,
) -> dict[str, Any]:
    plain, entity, entity_quiet, statements_only = (m.as_dict() for m in measurements[:4])
    peers = {m.key: m.as_dict() for m in measurements[4:]}

    def ratio(m: dict[str, Any]) -> dict[str, float]:
        return {
            "p50": round(m["p50_ms"] / plain["p50_ms"], 2),
            "ops_per_s": round(plain["ops_per_s"] / m["ops_per_s"], 2),
        }

    def entity_over(m: dict[str, Any]) -> dict[str, float]:
        """(b) against ``m``: above 1 is (b) slower."""
        return {
            "p50": round(entity["p50_ms"] / m["p50_ms"], 2),
            "ops_per_s": round(m["ops_per_s"] / entity["ops_per_s"], 2),
        }

    peer_ratios = {f"b/{key}": entity_over(m) for key, m in peers.items()}
    peer_ratios["b/d"] = entity_over(statements_only)
    peer_targets = {
        name: {"max_ratio": limit, "met": max(peer_ratios[name].values()) <= limit}
        for name, limit in PEER_TARGETS.items()
        if name in peer_ratios
    }
    target = TARGET_RATIO.get(connection.vendor)
    entity_ratio = ratio(entity)
    floor_ratio = ratio(statements_only)
    return {
        "database": database_facts(),
        "machine": machine_facts(),
        "run": {
            "iterations": iterations,
            "warmup": warmup,
            "items": items,
            "block": BLOCK,
            "profiled_writes": min(PROFILED_WRITES, iterations),
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        "plain": plain,
        "entity": entity,
        "entity_without_enqueue": entity_quiet,
        "ratio": entity_ratio,
        "ratio_without_enqueue": ratio(entity_quiet),
        "statements_only": statements_only,
        "ratio_statements_only": floor_ratio,
        "target": {
            "max_ratio": target,
            "met": None if target is None else max(entity_ratio.values()) <= target,
            "within_statements_only": (
                None if target is None else min(floor_ratio.values()) <= target
            ),
        },
        "peers": peers,
        "peers_skipped": dict(peers_skipped or {}),
        "peer_ratios": peer_ratios,
        "peer_targets": peer_targets,
    }


# -- the report ------------------------------------------------------------------------------

MEASUREMENTS = ("plain", "entity", "entity_without_enqueue", "statements_only")


def measured(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The measurements of a run in report order: (a) to (d), then the peers."""
    return [results[key] for key in MEASUREMENTS] + list(results.get("peers", {}).values())


def report_of(results: dict[str, Any]) -> list[report.Block]:
    db, machine, run = results["database"], results["machine"], results["run"]
    settings = ", ".join(f"{k}={v}" for k, v in db["settings"].items())
    blocks: list[report.Block] = [
        f"bench_entities on {db['vendor']} {db['version']} ({settings})",
        f"Django {db['django']}{', ' + db['driver'] if db.get('driver') else ''}, "
        f"CONN_MAX_AGE={db['conn_max_age']}, CONN_HEALTH_CHECKS={db['conn_health_checks']}, "
        f"broker: {db['broker']}",
        f"Python {machine['python']}, {machine['cpus']} CPUs: {machine['cpu_model']}, "
        f"load average {machine['load_average']}",
        f"{run['iterations']} measured writes of each kind after {run['warmup']} warm-up writes, "
        f"round-robin over {run['items']} rows each, kinds alternating in blocks of {run['block']}",
        "",
    ]
    writes = report.Table(
        [
            report.Column("", left=True),
            report.Column("ops/s", ",.0f"),
            report.Column("p50 ms", ".3f"),
            report.Column("p99 ms", ".3f"),
            report.Column("max ms", ".3f"),
        ]
    )
    for m in measured(results):
        writes.add(m["label"], m["ops_per_s"], m["p50_ms"], m["p99_ms"], m["max_ms"])
    blocks.append(writes)
    for key, reason in results.get("peers_skipped", {}).items():
        blocks.append(f"({key}) left out: {reason}")
    target = results["target"]
    for name, key in (
        ("b/a", "ratio"),
        ("c/a", "ratio_without_enqueue"),
        ("d/a", "ratio_statements_only"),
    ):
        ratio = results[key]
        blocks.append(
            f"ratio {name}: {ratio['ops_per_s']:.2f}x by ops/s, {ratio['p50']:.2f}x by p50"
        )
    if target["max_ratio"] is not None:
        verdict = "met" if target["met"] else "MISSED"
        blocks.append(
            f"target b/a on {db['vendor']}: at most {target['max_ratio']:.0f}x -> {verdict}"
        )
        if not target["within_statements_only"]:
            blocks.append(
                "  the write's statements alone, (d), already cost more than the target: "
                "no entity-layer Python can meet it with these statements"
            )
    for name, ratio in results.get("peer_ratios", {}).items():
        line = f"ratio {name}: {ratio['ops_per_s']:.2f}x by ops/s, {ratio['p50']:.2f}x by p50"
        peer_target = results["peer_targets"].get(name)
        if peer_target is not None:
            verdict = "met" if peer_target["met"] else "MISSED"
            line += f" (target at most {peer_target['max_ratio']:.2f}x -> {verdict})"
        blocks.append(line)
    blocks += ["", "Round trips per write (statements captured on one more write, in order):"]
    for m in measured(results):
        hidden = "".join(f" + {part}" for part in m["hidden_round_trips"])
        blocks.append(f"  {m['label']}: {m['statements']} captured{hidden} = {m['round_trips']}")
        statements = report.Table(
            [report.Column("#"), report.Column("statement", left=True)], indent=4
        )
        for n, sql in enumerate(m["sql"], 1):
            statements.add(n, describe_sql(sql))
        blocks.append(statements)
    blocks += [
        "",
        f"Where the time goes (means over {run['profiled_writes']} more writes; driver calls "
        "timed one by one, the rest is Python):",
    ]
    for m in measured(results):
        breakdown = m["breakdown"]
        blocks.append(
            f"  {m['label']}: {breakdown['total_ms']:.3f} ms, of which after-commit hooks "
            f"{breakdown['after_commit_hooks_ms']:.3f} ms"
        )
        parts = report.Table(
            [
                report.Column("part", left=True),
                report.Column("per write", ".2f"),
                report.Column("mean ms", ".3f"),
                report.Column("share", ".1%"),
            ],
            indent=4,
        )
        for row in breakdown["parts"]:
            parts.add(row["part"], row["per_write"], row["mean_ms"], row["share"])
        blocks.append(parts)
    if db["vendor"] == "postgresql":
        blocks.append(
            "  (on PostgreSQL the first statement of a transaction carries the driver's BEGIN)"
        )
    blocks.append("")
    for key in MEASUREMENTS[1:]:
        m, logged = results[key], results[key]["logged"]
        blocks.append(
            f"{m['label']}: {m['writes']} writes logged {logged['changes']} changes and "
            f"{logged['trigger_events']} {TRIGGER} events"
        )
    for m in results.get("peers", {}).values():
        rows = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in m["logged"].items())
        blocks.append(f"{m['label']}: {m['writes']} writes logged {rows}")
    blocks.append("All deleted again, with their queued tasks and the bench tables.")
    return blocks
