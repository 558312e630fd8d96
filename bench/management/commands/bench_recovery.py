"""``manage.py bench_recovery``: how long a webhook delivery in flight waits after a crash.

On the configured database (a SQLite file or PostgreSQL) the command starts a local HTTP
receiver on 127.0.0.1 and a webhook endpoint for ``incident.updated`` events of one made-up
system (``bench-recovery-<token>``, so no real incident matches it), then ``manage.py
qcluster`` (2 workers, ORM broker). Each round stores two trigger events of one made-up
incident, whose two deliveries go out in order. The receiver holds the first POST of the first
delivery without answering; while it hangs, the command SIGKILLs

- ``cluster``: the whole qcluster (sentinel, workers), and starts a new one at once, as a
  process supervisor would;
- ``worker``: only the worker process whose socket is connected to the receiver; its cluster
  lives on and its sentinel starts a replacement.

Measured, from the kill: the first delivery arriving again (same ``webhook-id``), and the
second one arriving after it. The deliveries, attempts, endpoint, trigger events and the
django-q2 tasks queued for them are deleted at the end, also after an error.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings
from django.utils import timezone

from bench import report
from bench.cluster import START_TIMEOUT, Cluster, cluster_facts, wait_until
from bench.facts import database_facts, machine_facts
from bench.queue import delete_task_results, jobs, last_queued_task_id, purge_queued_tasks
from bench.receiver import LocalReceiver
from bench.stats import from_seconds, latency_summary
from checkstack.automation.conf import app_settings
from checkstack.automation.tasks import WEBHOOK_TASK
from checkstack.entities.models import TriggerEvent

COMMAND = "bench_recovery"
PREFIX = "bench-recovery-"
EVENT = "incident.updated"
WORKERS = 2
MODES = ("cluster", "worker")
HANG_SECONDS = 60.0  # the held POST: longer than any recovery


@dataclasses.dataclass(frozen=True)
class Arrival:
    message_id: str
    perf: float
    client_port: int


class HoldingReceiver(LocalReceiver):
    """Answers 200 at once, except the first POST of each id in ``hold``, which it holds until
    the receiver stops."""

    thread_name = "bench-recovery-receiver"

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.hold: set[str] = set()
        self._arrived = threading.Condition()
        self._stopped = threading.Event()
        super().__init__()

    def __exit__(self, *exc: Any) -> None:
        self._stopped.set()  # lets the held requests go, so the server can shut down
        super().__exit__(*exc)

    def record(self, message_id: str, client_port: int) -> bool:
        """Note the arrival; whether to hold the request."""
        with self._arrived:
            self.arrivals.append(Arrival(message_id, time.perf_counter(), client_port))
            held = message_id in self.hold
            self.hold.discard(message_id)
            self._arrived.notify_all()
        return held

    def wait_for(self, message_id: str, count: int, timeout: float) -> Arrival:
        """The ``count``-th arrival of ``message_id``."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                seen = [a for a in self.arrivals if a.message_id == message_id]
                if len(seen) >= count:
                    return seen[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CommandError(
                        f"timed out after {timeout:.0f} s waiting for arrival {count} of "
                        f"{message_id}"
                    )
                self._arrived.wait(min(remaining, 0.5))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                held = receiver.record(self.headers.get("webhook-id", ""), self.client_address[1])
                if held:
                    receiver._stopped.wait(HANG_SECONDS)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def socket_owner(local_port: int, process_group: int) -> int:
    """The pid in ``process_group`` holding the loopback TCP socket bound to ``local_port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with Path(table).open() as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == local_port:
                    inodes.add(f"socket:[{fields[9]}]")
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            if os.getpgid(pid) != process_group:
                continue
            fds = Path(f"/proc/{pid}/fd")
            if any(os.readlink(fd) in inodes for fd in fds.iterdir()):
                return pid
        except OSError:  # gone, or not ours
            continue
    raise CommandError(f"no process of group {process_group} holds local port {local_port}")


# -- one round --------------------------------------------------------------------------------


@dataclasses.dataclass
class Round:
    mode: str
    resent_s: float  # kill -> the held delivery arrives again
    next_s: float  # kill -> the later delivery of the incident arrives


class Bench:
    def __init__(self, token: str) -> None:
        self.system = f"{PREFIX}{token}"
        self.event_ids: list[uuid.UUID] = []
        self.delivery_ids: list[int] = []
        self.endpoint_id: uuid.UUID | None = None
        self.rounds: list[Round] = []

    def set_up(self, receiver: HoldingReceiver) -> None:
        from checkstack.automation import webhooks

        endpoint = webhooks.create_endpoint(
            url=receiver.url,
            events=[EVENT],
            system_ids=[self.system],
            description=f"{self.system}: bench_recovery",
        )
        self.endpoint_id = endpoint.pk

    def two_deliveries(self, incident: str) -> list[tuple[int, str]]:
        """Two trigger events of ``incident`` and their webhook deliveries: (id, message id).

        The events are stored as dispatched already: no automation runs for them."""
        from checkstack.automation import webhooks
        from checkstack.automation.models import WebhookDelivery

        made = []
        for n in range(2):
            event = TriggerEvent.objects.create(
                event=EVENT,
                payload={"incidentId": incident, "systemIds": [self.system], "n": n},
                context_key=incident,
                change_id=uuid.uuid4(),
                actor={"type": "system", "id": "system", "name": "System"},
                created_at=timezone.now(),
                dispatched_at=timezone.now(),
            )
            self.event_ids.append(event.pk)
            (pk,) = webhooks.create_deliveries_for_event(event)
            self.delivery_ids.append(pk)
            made.append((pk, WebhookDelivery.objects.get(pk=pk).message_id))
        return made

    def held_pair(self, receiver: HoldingReceiver, n: int) -> tuple[str, str]:
        """Two deliveries of a new incident, enqueued once the receiver holds the first one's
        first POST: their message ids."""
        from checkstack.automation import queueing

        with override_settings(CHECKSTACK_ENQUEUE=False):
            (first, held), (second, later) = self.two_deliveries(f"{self.system}-{n}")
        receiver.hold.add(held)
        queueing.enqueue(WEBHOOK_TASK, [first, second])
        return held, later

    def one(self, mode: str, receiver: HoldingReceiver, cluster: Cluster, n: int) -> Cluster:
        """A round; returns the cluster running afterwards (a new one in ``cluster`` mode)."""
        held, later = self.held_pair(receiver, n)
        first = receiver.wait_for(held, 1, START_TIMEOUT)
        if mode == "cluster":
            os.killpg(cluster.process.pid, signal.SIGKILL)
            killed = time.perf_counter()
            cluster.stop()
            cluster = new_cluster()
        else:
            os.kill(socket_owner(first.client_port, cluster.process.pid), signal.SIGKILL)
            killed = time.perf_counter()
        resent = receiver.wait_for(held, 2, START_TIMEOUT)
        after = receiver.wait_for(later, 1, START_TIMEOUT)
        self.rounds.append(Round(mode, resent.perf - killed, after.perf - killed))
        return cluster

    def clean_up(self, queued_before: int) -> dict[str, int]:
        from checkstack.automation.models import WebhookEndpoint

        queued = jobs(WEBHOOK_TASK, self.delivery_ids)
        counts = {
            "queued_tasks": purge_queued_tasks(queued, queued_before),
            "task_results": delete_task_results(queued),
            "trigger_events": TriggerEvent.objects.filter(pk__in=self.event_ids).delete()[0],
        }
        counts["endpoint, deliveries, attempts"] = (
            WebhookEndpoint.objects.filter(pk=self.endpoint_id).delete()[0]
            if self.endpoint_id
            else 0
        )
        return counts


def new_cluster() -> Cluster:
    return Cluster(
        workers=WORKERS,
        command=COMMAND,
        environment={"CHECKSTACK_WEBHOOK_ALLOW_PRIVATE": "1"},
    )


@dataclasses.dataclass
class ClusterBox:
    cluster: Cluster | None = None


def run_benchmark(*, rounds: int, modes: tuple[str, ...]) -> dict[str, Any]:
    bench = Bench(uuid.uuid4().hex[:12])
    queued_before = last_queued_task_id()
    box = ClusterBox()
    cleanup: dict[str, int] = {}
    try:
        with (
            override_settings(CHECKSTACK_WEBHOOK_ALLOW_PRIVATE=True, CHECKSTACK_ENQUEUE=True),
            HoldingReceiver() as receiver,
        ):
            bench.set_up(receiver)
            box.cluster = new_cluster()
            n = 0
            for mode in modes:
                for _ in range(rounds):
                    box.cluster = bench.one(mode, receiver, box.cluster, n)
                    n += 1
            from checkstack.automation.models import WebhookDelivery

            cluster = box.cluster
            wait_until(
                lambda: (
                    not WebhookDelivery.objects.filter(pk__in=bench.delivery_ids)
                    .exclude(status="success")
                    .exists()
                ),
                START_TIMEOUT,
                cluster,
                "the last deliveries to succeed",
            )
            attempts = list(
                WebhookDelivery.objects.filter(pk__in=bench.delivery_ids)
                .order_by("id")
                .values_list("attempts", flat=True)
            )
            received = len(receiver.arrivals)
    finally:
        if box.cluster is not None:
            box.cluster.stop()
        cleanup = bench.clean_up(queued_before)
    return summarize(bench.rounds, attempts, received, cleanup)


def summarize(
    rounds: list[Round], attempts: list[int], received: int, cleanup: dict[str, int]
) -> dict[str, Any]:
    by_mode: dict[str, Any] = {}
    for mode in dict.fromkeys(r.mode for r in rounds):
        ours = [r for r in rounds if r.mode == mode]
        by_mode[mode] = {
            "rounds": len(ours),
            "kill_to_resent": latency_summary(from_seconds(r.resent_s for r in ours), digits=2),
            "kill_to_next": latency_summary(from_seconds(r.next_s for r in ours), digits=2),
            "max_resent_s": round(max(r.resent_s for r in ours), 2),
        }
    return {
        "benchmark": COMMAND,
        "machine": machine_facts(),
        "database": database_facts(),
        "cluster": cluster_facts(WORKERS),
        "settings": {
            "lease_s": app_settings.LEASE,
            "recovery_interval_s": app_settings.RECOVERY_INTERVAL,
            "webhook_timeout_s": app_settings.WEBHOOK_TIMEOUT,
        },
        "modes": by_mode,
        # Two attempts of each held delivery, one of each later one: nothing sent twice.
        "attempts": {"held": attempts[0::2], "later": attempts[1::2]},
        "requests_received": received,
        "cleanup": cleanup,
    }


def report_of(results: dict[str, Any]) -> list[report.Block]:
    s = results["settings"]
    blocks: list[report.Block] = [
        f"Crash recovery of a webhook in flight ({results['database']['vendor']}): "
        f"LEASE {s['lease_s']:g} s, RECOVERY_INTERVAL {s['recovery_interval_s']:g} s, "
        f"WEBHOOK_TIMEOUT {s['webhook_timeout_s']:g} s, {results['cluster']['workers']} workers",
        "",
    ]
    table = report.Table(
        [
            report.Column("killed", left=True),
            report.Column("rounds"),
            report.Column("resent p50 ms", ",.0f"),
            report.Column("resent max ms", ",.0f"),
            report.Column("next delivery p50 ms", ",.0f"),
            report.Column("next delivery max ms", ",.0f"),
        ]
    )
    for mode, m in results["modes"].items():
        table.add(
            mode,
            m["rounds"],
            m["kill_to_resent"]["p50_ms"],
            m["kill_to_resent"]["max_ms"],
            m["kill_to_next"]["p50_ms"],
            m["kill_to_next"]["max_ms"],
        )
    blocks += [
        table,
        "",
        f"Attempts per held delivery: {results['attempts']['held']}; per later delivery: "
        f"{results['attempts']['later']}; requests received: {results['requests_received']}",
        report.cleanup_line(results["cleanup"]),
    ]
    return blocks


def _modes(value: str) -> tuple[str, ...]:
    return MODES if value == "both" else (value,)


class Command(BaseCommand):
    help = "Measure kill -> redelivery of a webhook in flight (SIGKILLed qcluster or worker)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rounds", type=int, default=3, help="Rounds per mode (3).")
        parser.add_argument(
            "--kill", choices=[*MODES, "both"], default="both", help="What to SIGKILL (both)."
        )
        report.add_output_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rounds"] < 1:
            raise CommandError("--rounds must be at least 1")
        results = run_benchmark(rounds=options["rounds"], modes=_modes(options["kill"]))
        report.write(self.stdout, results, report_of, options)
