"""``manage.py bench_webhooks``: API → webhook latency through a real qcluster.

On the configured database (a SQLite file or PostgreSQL) the command starts a local HTTP
receiver thread on 127.0.0.1, creates a catalog system, an automation on ``incident.created``
(filtered to that system) with one ``webhook.send`` step posting ``{"incident": <id>}`` to the
receiver, and a superuser. Then, for each variant of ``--variants`` in turn (all by default):

- ``inline``: no cluster; after each API call this process dispatches the trigger event and
  executes the run itself (enqueueing off): the floor the others are compared with;
- ``orm-poll-2hop``, ``orm-poll``, ``orm-notify-2hop``, ``orm-notify``, ``redis-2hop``,
  ``redis``: ``manage.py qcluster`` (2 workers) on django-q2's ORM broker polling only
  (``CHECKSTACK_Q_NOTIFY=0``), on the ORM broker woken by ``NOTIFY`` (PostgreSQL), or on Redis
  (``--redis-url``; left out with a note without one), with ``CHECKSTACK_WEBHOOK_ALLOW_PRIVATE=1``
  (the receiver is on loopback); ``-2hop`` turns ``CHECKSTACK_ONE_HOP`` off (the run gets a
  task of its own: two queue hops), the others execute the run in the dispatching task. This
  process enqueues on the same broker.

Per variant, after a few warm-up incidents, it creates ``--n`` incidents one at a time with
``POST /api/incidents/`` through DRF's ``APIClient`` (forced authentication: the whole API
path, without HTTP). Latency = the receiver's arrival time minus the time just before the API
call (both ``time.perf_counter()`` of this process). The next incident is created once the
run of the previous one is finished. A per-hop breakdown comes from timestamps the path
records anyway: the ``incident_changed`` signal (after COMMIT and the after-commit task
insert), the trigger event's ``dispatched_at`` and the run's ``started_at`` (wall clocks of the
same machine, mapped onto this process's ``perf_counter``). Each variant's p50 and p99 are
compared with the inline ones (targets: p50 at most 1.5x, p99 at most 3x).

Everything the run created or caused is deleted at the end, also after an error: the incidents
(with their systems, updates and links), their and the system's change, transition, trigger
event, delivery and sequence rows, the automation runs of those trigger events (any
automation's, with their steps and artifacts) and webhook deliveries, the automation, the
system, the user, and the django-q2 tasks still queued for them and their task results. All
of them carry the run's token (``bench-webhooks-<token>``) or hang off rows that do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Q
from django.test.utils import override_settings

from bench import report
from bench.batches import chunks
from bench.change_log import Entities, delete_change_log, outbox_jobs, trigger_event_ids
from bench.cluster import START_TIMEOUT, Cluster, ClusterLike, cluster_facts, wait_until
from bench.facts import database_facts, machine_facts
from bench.queue import delete_task_results, jobs, last_queued_task_id, purge_queued_tasks
from bench.receiver import Receiver
from bench.stats import from_seconds, latency_summary
from checkstack.automation.tasks import RUN_TASK, WEBHOOK_TASK
from checkstack.entities import broker
from checkstack.entities.models import TriggerEvent

COMMAND = "bench_webhooks"
PREFIX = "bench-webhooks-"
EVENT = "incident.created"
STEP_ID = "post"
INCIDENT_KIND = "incident"
SYSTEM_KIND = "catalog-system"
WORKERS = 2
WARMUP = 5
RESULT_WAIT = 10.0  # seconds to wait for the last run task result
FINISHED = ("success", "failed", "cancelled", "skipped")
HOP_LABELS = {
    "api_call": "API call (t0 -> response)",
    "api_return_to_arrival": "API response -> arrival",
    "api_write_commit_enqueue": "  write + COMMIT + task insert",
    "enqueue_to_event_dispatched": "  -> trigger event dispatched",
    "event_dispatched_to_run_started": "  -> run started",
    "run_started_to_arrival": "  -> POST arrived",
    "event_dispatched_to_run_task_enqueued": "  dispatched -> run task inserted",
    "run_task_enqueued_to_run_started": "  -> run started",
}
SPLIT_HOPS = ("event_dispatched_to_run_task_enqueued", "run_task_enqueued_to_run_started")
INLINE = "inline"
TARGETS = {"p50": 1.5, "p99": 3.0}  # at most this many times the inline figure


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    broker: str  # "", "orm-poll", "orm-notify" or "redis"
    one_hop: bool = True
    description: str = ""


VARIANTS = {
    v.name: v
    for v in [
        Variant(INLINE, "", description="API call, then dispatch + run in this process"),
        Variant("orm-poll-2hop", "orm-poll", False, "ORM broker, polling; run task of its own"),
        Variant("orm-poll", "orm-poll", True, "ORM broker, polling; run in the dispatch task"),
        Variant("orm-notify-2hop", "orm-notify", False, "ORM broker + NOTIFY; run task of its own"),
        Variant("orm-notify", "orm-notify", True, "ORM broker + NOTIFY; run in the dispatch task"),
        Variant("redis-2hop", "redis", False, "Redis broker; run task of its own"),
        Variant("redis", "redis", True, "Redis broker; run in the dispatch task"),
    ]
}


@contextlib.contextmanager
def broker_of(variant: Variant, redis_url: str) -> Iterator[dict[str, str]]:
    """This process enqueues on the variant's broker (django-q2's ``Conf`` is frozen at import:
    its attributes are patched); yields the cluster's environment for the same broker."""
    from django_q.conf import Conf

    saved = (Conf.ORM, Conf.REDIS, Conf.BROKER_CLASS)
    environment = {
        "CHECKSTACK_WEBHOOK_ALLOW_PRIVATE": "1",
        "CHECKSTACK_ONE_HOP": "1" if variant.one_hop else "0",
        "CHECKSTACK_REDIS_URL": redis_url if variant.broker == "redis" else "",
        "CHECKSTACK_Q_NOTIFY": "1" if variant.broker == "orm-notify" else "0",
    }
    if variant.broker == "redis":
        Conf.ORM, Conf.REDIS, Conf.BROKER_CLASS = None, redis_url, None
    else:
        notify = variant.broker == "orm-notify"
        Conf.ORM, Conf.REDIS = "default", {}
        Conf.BROKER_CLASS = broker.BROKER_CLASS if notify else None
    try:
        yield environment
    finally:
        Conf.ORM, Conf.REDIS, Conf.BROKER_CLASS = saved


# -- one run ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Sample:
    incident_id: str
    t0: float  # perf_counter just before the API call
    offset: float  # time.time() - perf_counter(), taken with t0
    api_returned: float
    enqueued: float | None  # incident_changed: after COMMIT and the after-commit task insert
    arrival: float

    @property
    def latency(self) -> float:
        return self.arrival - self.t0

    def perf(self, moment: dt.datetime | None) -> float | None:
        """A wall-clock timestamp of the same machine on this process's perf_counter."""
        return None if moment is None else moment.timestamp() - self.offset


class InlineCluster:
    """Stands in for the cluster in the inline variant: nothing to start, stop or lose."""

    def check_alive(self) -> None:
        pass

    def output(self, chars: int = 3000) -> str:
        return ""

    def stop(self) -> None:
        pass


class Run:
    """One benchmark run: the token that names its rows, its setup and its measurements."""

    def __init__(self, *, timeout: float) -> None:
        self.token = uuid.uuid4().hex[:8]
        self.prefix = f"{PREFIX}{self.token}"
        self.system_id = self.prefix
        self.timeout = timeout
        self.queued_before = last_queued_task_id()
        self.automation_id: str | None = None
        self.enqueued: dict[str, float] = {}
        self.count = 0
        self.client: Any = None

    def set_up(self, receiver: Receiver) -> None:
        from rest_framework.test import APIClient

        from catalog.services import create_system
        from checkstack.automation.services import create_automation

        actor = {"type": "system", "id": COMMAND, "name": COMMAND}
        user = get_user_model().objects.create_user(  # type: ignore[attr-defined]
            username=self.prefix, is_superuser=True, is_staff=True
        )
        create_system(id=self.system_id, name=f"Bench webhooks {self.token}", actor=actor)
        automation = create_automation(
            name=f"{self.prefix} API → webhook",
            description="bench_webhooks: deleted at the end of the run.",
            trigger={"event": EVENT, "filter": f"{self.system_id!r} in trigger.payload.systemIds"},
            steps=[
                {
                    "id": STEP_ID,
                    "action": "webhook.send",
                    "config": {
                        "url": receiver.url,
                        "event_type": "bench.webhook",
                        "body": '{"incident": {{ trigger.payload.incidentId|tojson }}, '
                        f'"run": "{self.token}"}}',
                    },
                }
            ],
            # one bucket per incident: a run never waits for or skips behind another
            concurrency={"scope": "context_key", "mode": "parallel", "max_runs": 1},
            actor=actor,
        )
        self.automation_id = automation.pk
        self.client = APIClient()
        self.client.force_authenticate(user)

    def on_incident_changed(self, sender: Any, incident_id: str, action: str, **kw: Any) -> None:
        if action == "created":
            self.enqueued.setdefault(incident_id, time.perf_counter())

    def create_incident(self) -> tuple[str, float, float, float]:
        """``POST /api/incidents/``; the id, t0, the wall-clock offset and the return time."""
        self.count += 1
        body = {
            "title": f"{self.prefix} #{self.count}",
            "severity": "minor",
            "system_ids": [self.system_id],
        }
        offset = time.time() - time.perf_counter()
        t0 = time.perf_counter()
        response = self.client.post("/api/incidents/", body, format="json")
        returned = time.perf_counter()
        if response.status_code != 201:
            raise CommandError(f"POST /api/incidents/: {response.status_code} {response.content!r}")
        return str(response.json()["id"]), t0, offset, returned

    def wait_for_run(self, incident_id: str, cluster: ClusterLike, timeout: float) -> None:
        from checkstack.automation.models import AutomationRun

        runs = AutomationRun.objects.filter(
            automation_id=self.automation_id, context_key=incident_id
        )
        wait_until(
            lambda: runs.filter(status__in=FINISHED).exists(),
            timeout,
            cluster,
            f"the run of incident {incident_id}",
        )
        status, error = runs.values_list("status", "error").get()
        if status != "success":
            raise CommandError(f"the run of incident {incident_id} is {status}: {error}")

    def run_inline(self, incident_id: str) -> None:
        """What the cluster does, in this process: dispatch the event, execute the run."""
        from checkstack.automation.runs import execute_run
        from checkstack.entities import delivery

        event_id = TriggerEvent.objects.filter(event=EVENT, context_key=incident_id).values_list(
            "pk", flat=True
        )
        for pk in event_id:
            delivery.dispatch_trigger_event(pk)
        from checkstack.automation.models import AutomationRun

        for pk in AutomationRun.objects.filter(
            automation_id=self.automation_id, context_key=incident_id
        ).values_list("pk", flat=True):
            execute_run(pk)

    def one(self, receiver: Receiver, cluster: ClusterLike, timeout: float) -> Sample:
        incident_id, t0, offset, returned = self.create_incident()
        if isinstance(cluster, InlineCluster):
            self.run_inline(incident_id)
        arrival = receiver.wait_for(incident_id, timeout, cluster)
        self.wait_for_run(incident_id, cluster, timeout)
        return Sample(
            incident_id=incident_id,
            t0=t0,
            offset=offset,
            api_returned=returned,
            enqueued=self.enqueued.get(incident_id),
            arrival=arrival.perf,
        )

    def warm_up(self, receiver: Receiver, cluster: ClusterLike) -> None:
        """Until the cluster runs the automation; then a few more, not measured."""
        self.one(receiver, cluster, max(self.timeout, START_TIMEOUT))
        for _ in range(WARMUP - 1):
            self.one(receiver, cluster, self.timeout)

    def measure(self, n: int, receiver: Receiver, cluster: ClusterLike) -> list[Sample]:
        return [self.one(receiver, cluster, self.timeout) for _ in range(n)]


# -- cleanup ----------------------------------------------------------------------------------


def purge_bench_rows(prefix: str = PREFIX, queued_after: int = 0) -> dict[str, int]:
    """Benchmark cleanup: delete every row of the runs whose token starts with ``prefix``
    (the default: every run's, leftovers of a run that crashed), directly."""
    from catalog.models import System
    from checkstack.automation.models import Automation, AutomationRun, WebhookDelivery
    from incidents.models import Incident

    incident_ids = set(
        Incident.objects.filter(
            Q(title__startswith=prefix) | Q(systems__system_id__startswith=prefix)
        ).values_list("pk", flat=True)
    )
    entities = [Entities(SYSTEM_KIND, prefix=prefix), Entities(INCIDENT_KIND, ids=incident_ids)]
    event_ids = trigger_event_ids(entities)
    automations = Automation.objects.filter(name__startswith=prefix)
    run_ids = {
        str(pk)
        for pk in AutomationRun.objects.filter(automation__in=automations).values_list(
            "pk", flat=True
        )
    }
    webhook_ids: set[str] = set()
    for part in chunks(event_ids):
        runs = AutomationRun.objects.filter(trigger_event_id__in=part)
        run_ids |= {str(pk) for pk in runs.values_list("pk", flat=True)}
        webhooks = WebhookDelivery.objects.filter(trigger_event_id__in=part)
        webhook_ids |= {str(pk) for pk in webhooks.values_list("pk", flat=True)}

    queued = outbox_jobs(entities) | jobs(RUN_TASK, run_ids) | jobs(WEBHOOK_TASK, webhook_ids)
    counts = {
        "queued_tasks": purge_queued_tasks(queued, queued_after),
        "task_results": delete_task_results(queued),
    }
    counts["runs"] = sum(
        AutomationRun.objects.filter(pk__in=part).delete()[1].get("automation.AutomationRun", 0)
        for part in chunks(run_ids)
    )
    counts["webhook_deliveries"] = sum(
        WebhookDelivery.objects.filter(pk__in=part).delete()[1].get("automation.WebhookDelivery", 0)
        for part in chunks(webhook_ids)
    )
    counts.update(delete_change_log(entities))
    counts["incidents"] = sum(
        Incident.objects.filter(pk__in=part).delete()[1].get("incidents.Incident", 0)
        for part in chunks(incident_ids)
    )
    counts["automations"] = automations.delete()[1].get("automation.Automation", 0)
    counts["systems"] = (
        System.objects.filter(id__startswith=prefix).delete()[1].get("catalog.System", 0)
    )
    users = get_user_model().objects.filter(username__startswith=prefix)
    counts["users"] = sum(n for label, n in users.delete()[1].items() if label.endswith(".User"))
    return counts


# -- the benchmark ----------------------------------------------------------------------------


def breakdown(samples: list[Sample], stamps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per-hop latency summaries, each over the samples whose timestamps it needs are known.

    The run task's enqueue time comes from its django-q2 task result (``started`` is stamped by
    ``async_task``), of which django-q2 keeps the last ``save_limit``: the two hops through it
    cover the last incidents only (their ``n`` says how many).
    """
    hops: dict[str, list[float]] = {hop: [] for hop in HOP_LABELS}
    for s in samples:
        hops["api_call"].append(s.api_returned - s.t0)
        hops["api_return_to_arrival"].append(s.arrival - s.api_returned)
        at = {name: s.perf(moment) for name, moment in stamps.get(s.incident_id, {}).items()}
        dispatched, started = at.get("dispatched"), at.get("run_started")
        if s.enqueued is None or dispatched is None or started is None:
            continue
        hops["api_write_commit_enqueue"].append(s.enqueued - s.t0)
        hops["enqueue_to_event_dispatched"].append(dispatched - s.enqueued)
        hops["event_dispatched_to_run_started"].append(started - dispatched)
        hops["run_started_to_arrival"].append(s.arrival - started)
        run_task = at.get("run_task_enqueued")
        if run_task is not None:
            hops["event_dispatched_to_run_task_enqueued"].append(run_task - dispatched)
            hops["run_task_enqueued_to_run_started"].append(started - run_task)
    return {
        hop: latency_summary(from_seconds(values), digits=2)
        for hop, values in hops.items()
        if values
    }


def hop_timestamps(
    run: Run, samples: list[Sample], *, run_tasks: bool = True
) -> dict[str, dict[str, Any]]:
    """By incident: when its trigger event was dispatched, its run task was enqueued and its
    run started (wall clocks of the cluster's processes, from rows the path writes anyway)."""
    from django_q.models import Task

    from checkstack.automation.models import AutomationRun

    stamps: dict[str, dict[str, Any]] = {s.incident_id: {} for s in samples}
    by_task: dict[str, tuple[str, str]] = {}
    for part in chunks(stamps):
        for key, dispatched in TriggerEvent.objects.filter(
            event=EVENT, context_key__in=part
        ).values_list("context_key", "dispatched_at"):
            stamps[str(key)]["dispatched"] = dispatched
        for key, pk, started in AutomationRun.objects.filter(
            automation_id=run.automation_id, context_key__in=part
        ).values_list("context_key", "pk", "started_at"):
            stamps[str(key)]["run_started"] = started
            by_task[f"execute_run:{pk}"] = (str(key), "run_task_enqueued")
    # The monitor saves a task result shortly after the run's own commit: wait for the last.
    last = [name for name, (key, _) in by_task.items() if key == samples[-1].incident_id]
    if not run_tasks:
        last = []  # no run task: the run was executed by the dispatching task (or inline)
    deadline = time.monotonic() + RESULT_WAIT
    while last and not Task.objects.filter(name=last[0]).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for names in chunks(by_task):
        for name, started in Task.objects.filter(name__in=names).values_list("name", "started"):
            key, stamp = by_task[name]
            stamps[key][stamp] = started
    return stamps


def other_automations(run: Run) -> int:
    """Enabled automations on the same event besides the bench's own (they run too)."""
    from checkstack.automation.models import Automation

    return (
        Automation.objects.filter(enabled=True, trigger__event=EVENT)
        .exclude(pk=run.automation_id)
        .count()
    )


def run_benchmark(
    *, n: int, timeout: float, variants: list[str] | None = None, redis_url: str = ""
) -> dict[str, Any]:
    from incidents.signals import incident_changed

    if connection.in_atomic_block:
        raise CommandError(f"{COMMAND} commits for real: run it outside atomic()")
    chosen = [VARIANTS[name] for name in (variants or list(VARIANTS))]
    skipped = {}
    if not redis_url:
        skipped = {v.name: "no --redis-url" for v in chosen if v.broker == "redis"}
        chosen = [v for v in chosen if v.broker != "redis"]
    if connection.vendor != "postgresql":
        skipped.update({v.name: "NOTIFY needs PostgreSQL" for v in chosen if "notify" in v.broker})
        chosen = [v for v in chosen if "notify" not in v.broker]
    machine = machine_facts()
    purge_bench_rows()  # leftovers of a run that crashed
    run = Run(timeout=timeout)
    results: dict[str, Any] = {}
    uid = f"{COMMAND}:{run.token}"
    incident_changed.connect(run.on_incident_changed, weak=False, dispatch_uid=uid)
    try:
        with Receiver() as receiver:
            with override_settings(CHECKSTACK_WEBHOOK_ALLOW_PRIVATE=True, CHECKSTACK_ENQUEUE=True):
                run.set_up(receiver)
            for variant in chosen:
                results[variant.name] = measure_variant(run, variant, receiver, n, redis_url)
            others = other_automations(run)
            received = {"duplicates": receiver.duplicates, "unmatched": receiver.unmatched}
    finally:
        incident_changed.disconnect(dispatch_uid=uid)
        cleanup = purge_bench_rows(run.prefix, run.queued_before)
    return summarize(results, machine, skipped, n, others, received, cleanup)


def measure_variant(
    run: Run, variant: Variant, receiver: Receiver, n: int, redis_url: str
) -> dict[str, Any]:
    """Warm-up and ``n`` incidents on one variant (a cluster of its own, stopped after)."""
    cluster: ClusterLike = InlineCluster()
    enqueue = variant.name != INLINE
    with (
        broker_of(variant, redis_url) as environment,
        override_settings(CHECKSTACK_WEBHOOK_ALLOW_PRIVATE=True, CHECKSTACK_ENQUEUE=enqueue),
    ):
        try:
            if enqueue:
                cluster = Cluster(workers=WORKERS, command=COMMAND, environment=environment)
            run.warm_up(receiver, cluster)
            samples = run.measure(n, receiver, cluster)
        finally:
            cluster.stop()  # type: ignore[attr-defined]
        two_hops = enqueue and not variant.one_hop
        stamps = hop_timestamps(run, samples, run_tasks=two_hops)
        facts = cluster_facts(WORKERS) if enqueue else {}
        facts.update(broker=db_broker_name(variant), one_hop=variant.one_hop)
    return {
        "description": variant.description,
        "cluster": facts,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "latency": latency_summary(from_seconds(s.latency for s in samples), digits=2),
        "breakdown": breakdown(samples, stamps),
    }


def db_broker_name(variant: Variant) -> str:
    return {
        "": "none (inline)",
        "orm-poll": "django-q2 ORM, polling",
        "orm-notify": "django-q2 ORM + LISTEN/NOTIFY",
        "redis": "django-q2 Redis",
    }[variant.broker]


def summarize(
    variants: dict[str, Any],
    machine: dict[str, Any],
    skipped: dict[str, str],
    n: int,
    others: int,
    received: dict[str, int],
    cleanup: dict[str, int],
) -> dict[str, Any]:
    inline = variants.get(INLINE, {}).get("latency")
    for result in variants.values():
        lat = result["latency"]
        if inline is not None:
            result["ratio"] = {
                "p50": round(lat["p50_ms"] / inline["p50_ms"], 2),
                "p99": round(lat["p99_ms"] / inline["p99_ms"], 2),
            }
            result["meets_targets"] = all(result["ratio"][k] <= TARGETS[k] for k in TARGETS)
    return {
        "database": database_facts(),
        "machine": machine,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "run": {
            "n": n,
            "warmup": WARMUP,
            "workers": WORKERS,
            "other_automations_on_event": others,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        "targets": TARGETS,
        "variants": variants,
        "skipped": skipped,
        "receiver": received,
        "cleanup": cleanup,
    }


def report_of(results: dict[str, Any]) -> list[report.Block]:
    db, machine, run = results["database"], results["machine"], results["run"]
    variants = results["variants"]
    first = next((v["cluster"] for v in variants.values() if "poll_s" in v["cluster"]), None)
    table = report.Table(
        [
            report.Column("variant", left=True),
            report.Column("p50 ms", ".1f"),
            report.Column("p99 ms", ".1f"),
            report.Column("min ms", ".1f"),
            report.Column("max ms", ".1f"),
            report.Column("mean ms", ".1f"),
            report.Column("p50 / inline", ".2f"),
            report.Column("p99 / inline", ".2f"),
            report.Column("targets", left=True),
        ]
    )
    for name, result in variants.items():
        lat, ratio = result["latency"], result.get("ratio", {})
        met = result.get("meets_targets")
        table.add(
            name,
            lat["p50_ms"],
            lat["p99_ms"],
            lat["min_ms"],
            lat["max_ms"],
            lat["mean_ms"],
            ratio.get("p50", float("nan")),
            ratio.get("p99", float("nan")),
            "-" if name == INLINE or met is None else ("met" if met else "MISSED"),
        )
    blocks: list[report.Block] = [
        f"bench_webhooks on {db['vendor']} {db['version']}",
        f"Python {machine['python']}, {machine['cpus']} CPUs ({machine['cpu_model']}), load "
        f"average {machine['load_average']} at the start, {results['load_average_end']} at the end",
        f"qcluster: {run['workers']} workers"
        + (
            f", poll {first['poll_s']} s, bulk {first['bulk']}, save_limit {first['save_limit']}"
            if first
            else ""
        ),
        f"{run['n']} incidents one at a time per variant after {run['warmup']} warm-up; other "
        f"enabled automations on incident.created: {run['other_automations_on_event']}",
        f"targets: p50 <= {results['targets']['p50']}x inline, "
        f"p99 <= {results['targets']['p99']}x inline",
        "",
        "API call -> webhook POST received:",
        table,
    ]
    for name, reason in results["skipped"].items():
        blocks.append(f"left out: {name} ({reason})")
    for name, result in variants.items():
        hops = report.Table(
            [
                report.Column("hop", left=True),
                report.Column("n"),
                report.Column("p50 ms", ".1f"),
                report.Column("p99 ms", ".1f"),
                report.Column("mean ms", ".1f"),
            ]
        )
        for hop, label in HOP_LABELS.items():
            part = result["breakdown"].get(hop)
            if part is not None:
                hops.add(label, part["n"], part["p50_ms"], part["p99_ms"], part["mean_ms"])
        blocks += [
            "",
            f"{name}: {result['description']} (load after: {result['load_average_after']})",
            hops,
        ]
    blocks += [
        "",
        "(hop p50s do not add up to the total's p50; the means do)",
        f"receiver: {results['receiver']['duplicates']} duplicate, "
        f"{results['receiver']['unmatched']} unmatched POSTs",
    ]
    return [*blocks, report.cleanup_line(results["cleanup"])]


class Command(BaseCommand):
    help = (
        "Measure the latency from POST /api/incidents/ to the POST of an automation's "
        "webhook.send step at a local receiver, on the current database: inline in this "
        "process, then through a qcluster (2 workers) per broker variant. Deletes everything "
        "it created."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--n", type=int, default=200, help="Measured incidents.")
        parser.add_argument(
            "--timeout", type=float, default=60.0, help="Seconds to wait for each webhook."
        )
        parser.add_argument(
            "--variants",
            default=",".join(VARIANTS),
            help=f"Comma-separated, measured in this order (default: all): {', '.join(VARIANTS)}.",
        )
        parser.add_argument(
            "--redis-url",
            default=os.environ.get("CHECKSTACK_BENCH_REDIS_URL", ""),
            help="Redis of the redis variants (default: $CHECKSTACK_BENCH_REDIS_URL; without "
            "one they are left out).",
        )
        report.add_output_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["n"] < 1 or options["timeout"] <= 0:
            raise CommandError("--n and --timeout must be positive")
        variants = [v.strip() for v in options["variants"].split(",") if v.strip()]
        unknown = sorted(set(variants) - set(VARIANTS))
        if unknown or not variants:
            raise CommandError(f"--variants: unknown {unknown}; choose from {', '.join(VARIANTS)}")
        results = run_benchmark(
            n=options["n"],
            timeout=options["timeout"],
            variants=variants,
            redis_url=options["redis_url"],
        )
        report.write(self.stdout, results, report_of, options)
