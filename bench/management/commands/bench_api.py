"""``manage.py bench_api``: latency of the incident REST API next to the raw ORM + serializer.

BENCHMARK SETUP (not the code under test): ``--incidents`` incidents, each linked to
``--systems-per-incident`` catalog systems, are bulk-inserted together with the change-log rows
a service create would have written (``EntitySequence`` at seq 1, the create ``Change`` and its
``Transition`` rows, for incidents and systems alike), so every API path, including later
entity writes, works on them; no trigger events or deliveries are seeded, so no automation or
subscriber ever sees the seeded rows. A few incidents get a timeline (updates and links of every
visibility) for the detail requests.

Measured through the Django test client, authenticated by token as an incident manager:
``GET /api/incidents/?page_size=50`` (interleaved with the raw figure, ``list_incidents()[:50]``
+ ``IncidentSerializer(many=True).data``, so both see the same machine), an incident detail, and
``POST /api/incidents/`` followed by ``POST /api/incidents/{id}/resolve/``. Prints p50/p99, the
ratio list p50 / raw p50 (target at most 2.5x) and the SQL queries of each request.

The seeding and the cleanup are ``bench.incident_data``'s: every row the run created (seeded
rows, incidents created through the API, their change log, trigger events, deliveries and
queued tasks, the bench user and its token) is deleted at the end, also after an error. Run it
on a database of its own all the same, e.g. ``CHECKSTACK_VAR_DIR=/tmp/benchapi`` (SQLite) or
``DATABASE_URL=postgres://.../benchapi``, with ``--settings=bench.settings``.
"""

from __future__ import annotations

import dataclasses
import gc
import random
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from bench import report
from bench.api_requests import LIST_PATH, expect, queries_of, token_client
from bench.facts import database_facts, machine_facts
from bench.incident_data import (
    SEVERITIES,
    BenchData,
    analyze,
    create_manager,
    purge,
    seed_incidents,
    seed_systems,
    seed_timelines,
)
from bench.queue import last_queued_task_id
from bench.stats import latency_summary, timed
from incidents import services
from incidents.api.serializers import IncidentSerializer

TARGET_RATIO = 2.5


@dataclasses.dataclass(frozen=True)
class BenchParams:
    incidents: int = 10_000
    systems_per_incident: int = 3
    systems: int = 200
    iterations: int = 200
    warmup: int = 20
    detail_incidents: int = 20
    updates: int = 6
    links: int = 3
    resolved_share: float = 0.2
    seed: int = 1


# -- measuring --------------------------------------------------------------------------------


def raw_page() -> list[dict[str, Any]]:
    """The floor: the list's ORM query and serializer, without HTTP, auth or pagination."""
    return IncidentSerializer(list(services.list_incidents()[:50]), many=True).data  # type: ignore[no-any-return]


def measure(
    client: APIClient, data: BenchData, rng: random.Random, *, iterations: int, warmup: int
) -> dict[str, Any]:
    samples: dict[str, list[int]] = {
        "list": [],
        "raw": [],
        "detail": [],
        "create": [],
        "resolve": [],
        "create_resolve": [],
    }

    def list_request() -> Any:
        return expect(client.get(LIST_PATH), 200, "GET list")

    def detail_request(incident_id: str) -> Callable[[], Any]:
        return lambda: expect(client.get(f"/api/incidents/{incident_id}/"), 200, "GET detail")

    def create_body(n: int) -> dict[str, Any]:
        return {
            "title": f"Bench write {n}: checkout latency above threshold",
            "severity": SEVERITIES[n % 3],
            "system_ids": rng.sample(data.system_ids, min(3, len(data.system_ids))),
            "initial_message": "Investigating elevated latency.",
        }

    def create(n: int) -> Callable[[], Any]:
        body = create_body(n)
        return lambda: expect(
            client.post("/api/incidents/", body, format="json"), 201, "POST create"
        )

    def created_id(response: Any) -> str:
        incident_id: str = response.json()["id"]
        data.incident_ids.add(incident_id)  # for the cleanup
        return incident_id

    def resolve(incident_id: str) -> Callable[[], Any]:
        return lambda: expect(
            client.post(f"/api/incidents/{incident_id}/resolve/", {}, format="json"),
            200,
            "POST resolve",
        )

    queries = {
        "list": queries_of(list_request),
        "raw": queries_of(raw_page),
        "detail": queries_of(detail_request(data.detail_ids[0])),
    }
    with CaptureQueriesContext(connection) as captured:
        response = create(-1)()
    queries["create"] = len(captured.captured_queries)
    queries["resolve"] = queries_of(resolve(created_id(response)))

    gc.collect()
    gc.disable()  # collector pauses would land on random samples
    try:
        for i in range(warmup + iterations):
            keep = i >= warmup
            pair = (list_request, raw_page) if i % 2 == 0 else (raw_page, list_request)
            for call in pair:
                ns, _ = timed(call)
                if keep:
                    samples["list" if call is list_request else "raw"].append(ns)
        gc.collect()
        for i in range(warmup + iterations):
            incident_id = data.detail_ids[i % len(data.detail_ids)]
            ns, _ = timed(detail_request(incident_id))
            if i >= warmup:
                samples["detail"].append(ns)
        gc.collect()
        for i in range(warmup + iterations):
            create_ns, response = timed(create(i))
            resolve_ns, _ = timed(resolve(created_id(response)))
            if i >= warmup:
                samples["create"].append(create_ns)
                samples["resolve"].append(resolve_ns)
                samples["create_resolve"].append(create_ns + resolve_ns)
    finally:
        gc.enable()
    queries["create_resolve"] = queries["create"] + queries["resolve"]
    results: dict[str, Any] = {
        name: {**latency_summary(ns), "queries": queries[name]} for name, ns in samples.items()
    }
    ratio = float(results["list"]["p50_ms"]) / float(results["raw"]["p50_ms"])
    results["ratio"] = {
        "list_p50_over_raw_p50": round(ratio, 2),
        "target": TARGET_RATIO,
        "met": ratio <= TARGET_RATIO,
    }
    return results


def setup(data: BenchData, params: BenchParams, rng: random.Random) -> str:
    """Benchmark setup: seeded rows and a manager's token."""
    if params.systems < params.systems_per_incident:
        raise CommandError("--systems must be at least --systems-per-incident")
    now = timezone.now()
    seed_systems(data, params.systems, now)
    seed_incidents(
        data,
        rng,
        count=params.incidents,
        systems_per_incident=params.systems_per_incident,
        resolved_share=params.resolved_share,
        now=now,
    )
    token, user = create_manager(data)
    seed_timelines(
        data,
        user,
        incidents=params.detail_incidents,
        updates=params.updates,
        links=params.links,
    )
    if not data.detail_ids:
        raise CommandError("no open incident to measure the detail on: lower --resolved-share")
    analyze()
    return token


def run_benchmark(params: BenchParams) -> dict[str, Any]:
    rng = random.Random(params.seed)
    data = BenchData(queued_after=last_queued_task_id())
    results: dict[str, Any] = {}
    try:
        setup_ns, token = timed(lambda: setup(data, params, rng))
        client = token_client(token)
        results = measure(client, data, rng, iterations=params.iterations, warmup=params.warmup)
        results["setup_seconds"] = round(setup_ns / 1e9, 2)
    finally:
        cleanup_ns, removed = timed(lambda: purge(data))
    results["cleanup"] = {"seconds": round(cleanup_ns / 1e9, 2), **removed}
    results["database"] = database_facts()
    results["environment"] = machine_facts()
    results["parameters"] = dataclasses.asdict(params)
    return results


ROWS = [
    ("list", f"GET {LIST_PATH}"),
    ("raw", "raw: list_incidents()[:50] + IncidentSerializer"),
    ("detail", "GET /api/incidents/{id}/"),
    ("create", "POST /api/incidents/"),
    ("resolve", "POST /api/incidents/{id}/resolve/"),
    ("create_resolve", "create + resolve"),
]


def report_of(results: dict[str, Any]) -> list[report.Block]:
    db, params = results["database"], results["parameters"]
    table = report.Table(
        [
            report.Column("request", left=True),
            report.Column("p50 ms", ".2f"),
            report.Column("p99 ms", ".2f"),
            report.Column("queries"),
        ]
    )
    for key, label in ROWS:
        row = results[key]
        table.add(label, row["p50_ms"], row["p99_ms"], row["queries"])
    ratio = results["ratio"]
    verdict = "met" if ratio["met"] else "NOT met"
    removed = {k: v for k, v in results["cleanup"].items() if k != "seconds"}
    return [
        f"bench_api on {db['vendor']} {db['version']} ({db['name']}): "
        f"{params['incidents']} incidents x {params['systems_per_incident']} systems "
        f"({params['systems']} systems); {params['iterations']} measured iterations after "
        f"{params['warmup']} warm-up",
        f"setup {results['setup_seconds']} s (benchmark bulk insert), "
        f"cleanup {results['cleanup']['seconds']} s",
        "",
        table,
        "",
        f"list p50 / raw p50 = {ratio['list_p50_over_raw_p50']:.2f}x "
        f"(target <= {ratio['target']}x: {verdict})",
        report.cleanup_line(removed),
    ]


class Command(BaseCommand):
    help = (
        "Measure p50/p99 latency of the incident list, detail, create and resolve endpoints "
        "through the Django test client on N seeded incidents, next to the raw ORM + serializer "
        "figure for 50 incidents. Removes everything it created."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = BenchParams()
        parser.add_argument("--incidents", type=int, default=defaults.incidents)
        parser.add_argument(
            "--systems-per-incident", type=int, default=defaults.systems_per_incident
        )
        parser.add_argument(
            "--systems", type=int, default=defaults.systems, help="Catalog systems to seed."
        )
        parser.add_argument(
            "--iterations", type=int, default=defaults.iterations, help="Measured requests."
        )
        parser.add_argument(
            "--warmup", type=int, default=defaults.warmup, help="Unmeasured requests first."
        )
        parser.add_argument(
            "--detail-incidents",
            type=int,
            default=defaults.detail_incidents,
            help="Open incidents given a timeline; the detail requests rotate over them.",
        )
        parser.add_argument("--updates", type=int, default=defaults.updates)
        parser.add_argument("--links", type=int, default=defaults.links)
        parser.add_argument("--resolved-share", type=float, default=defaults.resolved_share)
        parser.add_argument("--seed", type=int, default=defaults.seed)
        report.add_output_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        params = BenchParams(
            incidents=options["incidents"],
            systems_per_incident=options["systems_per_incident"],
            systems=options["systems"],
            iterations=options["iterations"],
            warmup=options["warmup"],
            detail_incidents=options["detail_incidents"],
            updates=options["updates"],
            links=options["links"],
            resolved_share=options["resolved_share"],
            seed=options["seed"],
        )
        if min(params.incidents, params.systems_per_incident, params.iterations) < 1:
            raise CommandError("--incidents, --systems-per-incident and --iterations must be >= 1")
        if params.warmup < 0 or params.detail_incidents < 1:
            raise CommandError("--warmup must be >= 0 and --detail-incidents >= 1")
        report.write(self.stdout, run_benchmark(params), report_of, options)
