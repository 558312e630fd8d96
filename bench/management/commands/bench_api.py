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

Every row the run created (seeded rows, incidents created through the API, their change log,
trigger events, deliveries and queued tasks, the bench user and its token) is deleted at the
end, also after an error. Run it on a database of its own all the same, e.g.
``CHECKSTACK_VAR_DIR=/tmp/benchapi`` (SQLite) or ``DATABASE_URL=postgres://.../benchapi``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import json
import os
import platform
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import django
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.entity import SYSTEM_KIND
from catalog.models import System
from bench.cluster import (
    last_queued_task_id,
    percentile,
    purge_queued_tasks,
)
from checkstack.entities.diff import changed_fields, delta_of
from checkstack.entities.models import Change, Delivery, EntitySequence, Transition, TriggerEvent
from incidents import services
from incidents.api.serializers import IncidentSerializer
from incidents.entity import KIND as INCIDENT_KIND
from incidents.models import Incident, IncidentLink, IncidentSystem, IncidentUpdate

BENCH_ACTOR = {"type": "system", "id": "bench-api", "name": "bench_api (setup)"}
SYSTEM_PREFIX = "bench-api-"
LIST_PATH = "/api/incidents/?page_size=50"
TARGET_RATIO = 2.5
BATCH = 1000
CHUNK = 500  # ids per IN (...) when cleaning up (SQLite's bound-parameter limit)
OPEN_STATUSES = ("investigating", "identified", "fixing", "monitoring")
SEVERITIES = ("minor", "major", "critical")
SEVERITY_WEIGHTS = (3, 5, 2)
VISIBILITIES = ("public", "logged_in", "internal")
MANAGE_PERMISSIONS = (("incidents", "manage_incident"), ("catalog", "manage_catalog"))


@dataclasses.dataclass
class BenchData:
    """What the run created, so cleanup removes exactly that."""

    system_ids: list[str] = dataclasses.field(default_factory=list)
    incident_ids: set[str] = dataclasses.field(default_factory=set)
    detail_ids: list[str] = dataclasses.field(default_factory=list)
    user_pk: int | None = None
    queued_after: int = 0


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


def summary(samples: list[int]) -> dict[str, float | int]:
    ordered = sorted(samples)
    return {
        "samples": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 3),
        "p99_ms": round(percentile(ordered, 99), 3),
        "mean_ms": round(sum(ordered) / len(ordered) / 1e6, 3),
    }


def chunks(ids: Iterable[str], size: int = CHUNK) -> Iterator[list[str]]:
    items = list(ids)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def timed(call: Callable[[], Any]) -> tuple[int, Any]:
    t0 = time.perf_counter_ns()
    result = call()
    return time.perf_counter_ns() - t0, result


def expect(response: Any, status: int, what: str) -> Any:
    if response.status_code != status:
        raise CommandError(f"{what}: HTTP {response.status_code}: {response.content[:300]!r}")
    return response


# -- setup (benchmark only: bulk inserts plus the change log a create would have written) -----


def seed_change_log(kind: str, states: dict[str, dict[str, Any]], at: dict[str, Any]) -> None:
    """Sequence, create change and transitions per entity, as ``handle.mutate`` writes them."""
    sequences, changes, transitions = [], [], []
    for entity_id, state in states.items():
        fields = changed_fields(None, state)
        change_id = uuid.uuid4()
        sequences.append(EntitySequence(kind=kind, entity_id=entity_id, last_seq=1))
        changes.append(
            Change(
                change_id=change_id,
                kind=kind,
                entity_id=entity_id,
                seq=1,
                prev=None,
                next=state,
                delta=delta_of(state, fields),
                changed_fields=fields,
                actor=BENCH_ACTOR,
                occurred_at=at[entity_id],
            )
        )
        transitions += [
            Transition(
                change_id=change_id,
                kind=kind,
                entity_id=entity_id,
                field=field,
                from_value=None,
                to_value=state.get(field),
                occurred_at=at[entity_id],
            )
            for field in fields
        ]
    EntitySequence.objects.bulk_create(sequences, batch_size=BATCH)
    Change.objects.bulk_create(changes, batch_size=BATCH)
    Transition.objects.bulk_create(transitions, batch_size=BATCH)


def seed_systems(data: BenchData, count: int, now: dt.datetime) -> None:
    run = uuid.uuid4().hex[:6]
    data.system_ids = [f"{SYSTEM_PREFIX}{run}-{n:04d}" for n in range(count)]
    System.objects.bulk_create(
        [
            System(id=system_id, name=f"Bench system {n:04d}", metadata={})
            for n, system_id in enumerate(data.system_ids)
        ],
        batch_size=BATCH,
    )
    seed_change_log(
        SYSTEM_KIND,
        {
            system_id: {"name": f"Bench system {n:04d}", "description": None, "metadata": {}}
            for n, system_id in enumerate(data.system_ids)
        },
        dict.fromkeys(data.system_ids, now),
    )


def seed_incidents(
    data: BenchData,
    rng: random.Random,
    *,
    count: int,
    systems_per_incident: int,
    resolved_share: float,
    now: dt.datetime,
) -> None:
    incidents: list[Incident] = []
    links: list[IncidentSystem] = []
    states: dict[str, dict[str, Any]] = {}
    created: dict[str, dt.datetime] = {}
    for n in range(count):
        created_at = now - dt.timedelta(seconds=rng.randint(3600, 90 * 86400))
        updated_at = min(now, created_at + dt.timedelta(seconds=rng.randint(0, 2 * 86400)))
        resolved = rng.random() < resolved_share
        status = "resolved" if resolved else rng.choice(OPEN_STATUSES)
        severity = rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0]
        system_ids = sorted(rng.sample(data.system_ids, systems_per_incident))
        incident = Incident(
            id=str(uuid.uuid4()),
            title=f"Bench incident {n:05d}: elevated error rate on {system_ids[0]}",
            description="Seeded by manage.py bench_api.",
            status=status,
            severity=severity,
            created_at=created_at,
            updated_at=updated_at,
            resolved_at=updated_at if resolved else None,
        )
        incidents.append(incident)
        links += [IncidentSystem(incident_id=incident.pk, system_id=s) for s in system_ids]
        states[incident.pk] = {"status": status, "severity": severity, "systemIds": system_ids}
        created[incident.pk] = created_at
    Incident.objects.bulk_create(incidents, batch_size=BATCH)
    data.incident_ids.update(states)
    IncidentSystem.objects.bulk_create(links, batch_size=BATCH)
    seed_change_log(INCIDENT_KIND, states, created)


def seed_timelines(data: BenchData, user: Any, *, incidents: int, updates: int, links: int) -> None:
    """Message-only updates and links of every visibility on a few open incidents."""
    ids = list(
        Incident.objects.filter(pk__in=list(data.incident_ids)[: incidents * 10])
        .exclude(status="resolved")
        .order_by("pk")
        .values_list("pk", "created_at")[:incidents]
    )
    data.detail_ids = [pk for pk, _ in ids]
    IncidentUpdate.objects.bulk_create(
        [
            IncidentUpdate(
                incident_id=pk,
                message=f"Update {k}: still investigating the elevated error rate.",
                visibility=VISIBILITIES[k % 3],
                created_at=created_at + dt.timedelta(minutes=k + 1),
                created_by=user if k % 2 else None,
            )
            for pk, created_at in ids
            for k in range(updates)
        ],
        batch_size=BATCH,
    )
    IncidentLink.objects.bulk_create(
        [
            IncidentLink(
                incident_id=pk,
                url=f"https://status.example.com/{pk}/{k}",
                label=f"Link {k}",
                visibility=VISIBILITIES[k % 3],
                created_at=created_at + dt.timedelta(minutes=k + 1),
            )
            for pk, created_at in ids
            for k in range(links)
        ],
        batch_size=BATCH,
    )


def create_manager(data: BenchData) -> tuple[str, Any]:
    user = get_user_model().objects.create_user(
        username=f"bench_api_{uuid.uuid4().hex[:8]}", first_name="Bench", last_name="Manager"
    )
    data.user_pk = user.pk
    for app_label, codename in MANAGE_PERMISSIONS:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return Token.objects.create(user=user).key, user


# -- cleanup ----------------------------------------------------------------------------------


def purge(data: BenchData) -> dict[str, int]:
    """Delete every row the run created; returns how many of each."""
    counts = dict.fromkeys(
        (
            "queued_tasks",
            "trigger_events",
            "deliveries",
            "changes",
            "sequences",
            "incidents",
            "systems",
            "users",
        ),
        0,
    )
    entities = [(INCIDENT_KIND, data.incident_ids), (SYSTEM_KIND, set(data.system_ids))]
    outbox_args: set[str] = set()
    for kind, ids in entities:
        for part in chunks(ids):
            events = TriggerEvent.objects.filter(change__kind=kind, change__entity_id__in=part)
            deliveries = Delivery.objects.filter(kind=kind, entity_id__in=part)
            outbox_args |= {str(pk) for pk in events.values_list("pk", flat=True)}
            outbox_args |= {str(pk) for pk in deliveries.values_list("pk", flat=True)}
    counts["queued_tasks"] = purge_queued_tasks(outbox_args, data.queued_after)
    for kind, ids in entities:
        for part in chunks(ids):
            counts["trigger_events"] += TriggerEvent.objects.filter(
                change__kind=kind, change__entity_id__in=part
            ).delete()[0]
            counts["deliveries"] += Delivery.objects.filter(kind=kind, entity_id__in=part).delete()[
                0
            ]
            Transition.objects.filter(kind=kind, entity_id__in=part).delete()
            counts["changes"] += Change.objects.filter(kind=kind, entity_id__in=part).delete()[0]
            counts["sequences"] += EntitySequence.objects.filter(
                kind=kind, entity_id__in=part
            ).delete()[0]
    for part in chunks(data.incident_ids):
        deleted = Incident.objects.filter(pk__in=part).delete()[1]
        counts["incidents"] += deleted.get("incidents.Incident", 0)
    for part in chunks(data.system_ids):
        counts["systems"] += System.objects.filter(pk__in=part).delete()[1].get("catalog.System", 0)
    if data.user_pk is not None:
        deleted = get_user_model().objects.filter(pk=data.user_pk).delete()[1]
        counts["users"] = sum(n for label, n in deleted.items() if label.endswith(".User"))
    return counts


# -- measuring --------------------------------------------------------------------------------


def raw_page() -> list[dict[str, Any]]:
    """The floor: the list's ORM query and serializer, without HTTP, auth or pagination."""
    return IncidentSerializer(list(services.list_incidents()[:50]), many=True).data  # type: ignore[no-any-return]


def queries_of(call: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


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
        name: {**summary(ns), "queries": queries[name]} for name, ns in samples.items()
    }
    ratio = float(results["list"]["p50_ms"]) / float(results["raw"]["p50_ms"])
    results["ratio"] = {
        "list_p50_over_raw_p50": round(ratio, 2),
        "target": TARGET_RATIO,
        "met": ratio <= TARGET_RATIO,
    }
    return results


def database_info() -> dict[str, Any]:
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
    else:
        version = connection.Database.sqlite_version  # type: ignore[attr-defined]
    return {"vendor": connection.vendor, "version": version, "name": str(settings["NAME"])}


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


def analyze() -> None:
    """Fresh planner statistics: right after a bulk insert PostgreSQL would plan with none."""
    models: list[Any] = [Incident, IncidentSystem, IncidentUpdate, IncidentLink, System]
    models += [Change, Transition, EntitySequence]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
            cursor.execute(f"ANALYZE {tables}")
        else:
            cursor.execute("ANALYZE")


def run_benchmark(params: BenchParams) -> dict[str, Any]:
    rng = random.Random(params.seed)
    data = BenchData(queued_after=last_queued_task_id())
    results: dict[str, Any] = {}
    try:
        setup_ns, token = timed(lambda: setup(data, params, rng))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        results = measure(client, data, rng, iterations=params.iterations, warmup=params.warmup)
        results["setup_seconds"] = round(setup_ns / 1e9, 2)
    finally:
        cleanup_ns, removed = timed(lambda: purge(data))
    results["cleanup"] = {"seconds": round(cleanup_ns / 1e9, 2), **removed}
    results["database"] = database_info()
    results["environment"] = {
        "python": platform.python_version(),
        "django": django.get_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
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


def format_report(results: dict[str, Any]) -> str:
    db, params = results["database"], results["parameters"]
    lines = [
        f"bench_api on {db['vendor']} {db['version']} ({db['name']}): "
        f"{params['incidents']} incidents x {params['systems_per_incident']} systems "
        f"({params['systems']} systems); {params['iterations']} measured iterations after "
        f"{params['warmup']} warm-up",
        f"setup {results['setup_seconds']} s (benchmark bulk insert), "
        f"cleanup {results['cleanup']['seconds']} s",
        "",
        f"{'request':<52} {'p50 ms':>8} {'p99 ms':>8} {'queries':>8}",
    ]
    for key, label in ROWS:
        row = results[key]
        lines.append(f"{label:<52} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['queries']:>8}")
    ratio = results["ratio"]
    verdict = "met" if ratio["met"] else "NOT met"
    lines += [
        "",
        f"list p50 / raw p50 = {ratio['list_p50_over_raw_p50']:.2f}x "
        f"(target <= {ratio['target']}x: {verdict})",
        "removed: "
        + ", ".join(f"{k} {v}" for k, v in results["cleanup"].items() if k != "seconds"),
    ]
    return "\n".join(lines)


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
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

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
        results = run_benchmark(params)
        if options["json"]:
            self.stdout.write(json.dumps(results, indent=2))
        else:
            self.stdout.write(format_report(results))
