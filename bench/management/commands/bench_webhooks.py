"""``manage.py bench_webhooks``: API → webhook latency through a real qcluster.

On the configured database (a SQLite file or PostgreSQL) the command starts a local HTTP
receiver thread on 127.0.0.1, creates a catalog system, an automation on ``incident.created``
(filtered to that system) with one ``webhook.send`` step posting ``{"incident": <id>}`` to the
receiver, and a superuser; then starts ``manage.py qcluster`` (2 workers, ORM broker) with
``CHECKSTACK_WEBHOOK_ALLOW_PRIVATE=1`` (the receiver is on loopback).

After a few warm-up incidents, it creates ``--n`` incidents one at a time with
``POST /api/incidents/`` through DRF's ``APIClient`` (forced authentication: the whole API
path, without HTTP). Latency = the receiver's arrival time minus the time just before the API
call (both ``time.perf_counter()`` of this process). The next incident is created once the
run of the previous one is finished. A per-hop breakdown comes from timestamps the path
records anyway: the ``incident_changed`` signal (after COMMIT and the after-commit task
insert), the trigger event's ``dispatched_at`` and the run's ``started_at`` (wall clocks of the
same machine, mapped onto this process's ``perf_counter``).

Everything the run created or caused is deleted at the end, also after an error: the incidents
(with their systems, updates and links), their and the system's change, transition, trigger
event, delivery and sequence rows, the automation runs of those trigger events (any
automation's, with their steps and artifacts) and webhook deliveries, the automation, the
system, the user, and the django-q2 tasks still queued for them and their task results. All
of them carry the run's token (``bench-webhooks-<token>``) or hang off rows that do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Q
from django.test.utils import override_settings

from bench import report
from bench.batches import chunks
from bench.change_log import Entities, delete_change_log, outbox_jobs, trigger_event_ids
from bench.cluster import START_TIMEOUT, Cluster, cluster_facts, wait_until
from bench.facts import database_facts, machine_facts
from bench.queue import delete_task_results, jobs, last_queued_task_id, purge_queued_tasks
from bench.receiver import Receiver
from bench.stats import from_seconds, latency_summary
from checkstack.automation.tasks import RUN_TASK, WEBHOOK_TASK
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

    def wait_for_run(self, incident_id: str, cluster: Cluster, timeout: float) -> None:
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

    def one(self, receiver: Receiver, cluster: Cluster, timeout: float) -> Sample:
        incident_id, t0, offset, returned = self.create_incident()
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

    def warm_up(self, receiver: Receiver, cluster: Cluster) -> None:
        """Until the cluster runs the automation; then a few more, not measured."""
        self.one(receiver, cluster, max(self.timeout, START_TIMEOUT))
        for _ in range(WARMUP - 1):
            self.one(receiver, cluster, self.timeout)

    def measure(self, n: int, receiver: Receiver, cluster: Cluster) -> list[Sample]:
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


def hop_timestamps(run: Run, samples: list[Sample]) -> dict[str, dict[str, Any]]:
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


def run_benchmark(*, n: int, timeout: float) -> dict[str, Any]:
    from incidents.signals import incident_changed

    if connection.in_atomic_block:
        raise CommandError(f"{COMMAND} commits for real: run it outside atomic()")
    purge_bench_rows()  # leftovers of a run that crashed
    run = Run(timeout=timeout)
    cluster: Cluster | None = None
    uid = f"{COMMAND}:{run.token}"
    incident_changed.connect(run.on_incident_changed, weak=False, dispatch_uid=uid)
    try:
        with (
            override_settings(CHECKSTACK_WEBHOOK_ALLOW_PRIVATE=True, CHECKSTACK_ENQUEUE=True),
            Receiver() as receiver,
        ):
            run.set_up(receiver)
            cluster = Cluster(
                workers=WORKERS,
                command=COMMAND,
                environment={"CHECKSTACK_WEBHOOK_ALLOW_PRIVATE": "1"},
            )
            run.warm_up(receiver, cluster)
            samples = run.measure(n, receiver, cluster)
            stamps = hop_timestamps(run, samples)
            others = other_automations(run)
            received = {"duplicates": receiver.duplicates, "unmatched": receiver.unmatched}
    finally:
        incident_changed.disconnect(dispatch_uid=uid)
        try:
            if cluster is not None:
                cluster.stop()
        finally:
            cleanup = purge_bench_rows(run.prefix, run.queued_before)
    return summarize(samples, breakdown(samples, stamps), others, received, cleanup)


def summarize(
    samples: list[Sample],
    hops: dict[str, Any],
    others: int,
    received: dict[str, int],
    cleanup: dict[str, int],
) -> dict[str, Any]:
    return {
        "database": database_facts(),
        "machine": machine_facts(),
        "cluster": cluster_facts(WORKERS),
        "run": {
            "n": len(samples),
            "warmup": WARMUP,
            "other_automations_on_event": others,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        "latency": latency_summary(from_seconds(s.latency for s in samples), digits=2),
        "breakdown": hops,
        "receiver": received,
        "cleanup": cleanup,
    }


def report_of(results: dict[str, Any]) -> list[report.Block]:
    db, machine, cluster, run = (
        results["database"],
        results["machine"],
        results["cluster"],
        results["run"],
    )
    lat = results["latency"]
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
        part = results["breakdown"].get(hop)
        if part is not None:
            hops.add(label, part["n"], part["p50_ms"], part["p99_ms"], part["mean_ms"])
    blocks: list[report.Block] = [
        f"bench_webhooks on {db['vendor']} {db['version']}, broker: {db['broker']}",
        f"qcluster: {cluster['workers']} workers, poll {cluster['poll_s']} s, "
        f"bulk {cluster['bulk']}, save_limit {cluster['save_limit']}",
        f"Python {machine['python']}, {machine['cpus']} CPUs, load {machine['load_average']}",
        f"{run['n']} incidents one at a time after {run['warmup']} warm-up; other enabled "
        f"automations on incident.created: {run['other_automations_on_event']}",
        "",
        "API call -> webhook POST received "
        f"(ms): p50 {lat['p50_ms']:.1f}, p99 {lat['p99_ms']:.1f}, min {lat['min_ms']:.1f}, "
        f"max {lat['max_ms']:.1f}, mean {lat['mean_ms']:.1f}",
        "",
        hops,
        "(hop p50s do not add up to the total's p50; the means do)",
    ]
    if SPLIT_HOPS[0] in results["breakdown"]:
        blocks.append(
            "the last two hops split the run hop at the run task's insert, over the last n "
            "incidents only (django-q2 keeps save_limit task results)"
        )
    return [*blocks, report.cleanup_line(results["cleanup"])]


class Command(BaseCommand):
    help = (
        "Start a qcluster with 2 workers and measure the latency from POST /api/incidents/ to "
        "the POST of an automation's webhook.send step at a local receiver, on the current "
        "database. Deletes everything it created."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--n", type=int, default=200, help="Measured incidents.")
        parser.add_argument(
            "--timeout", type=float, default=60.0, help="Seconds to wait for each webhook."
        )
        report.add_output_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["n"] < 1 or options["timeout"] <= 0:
            raise CommandError("--n and --timeout must be positive")
        results = run_benchmark(n=options["n"], timeout=options["timeout"])
        report.write(self.stdout, results, report_of, options)
