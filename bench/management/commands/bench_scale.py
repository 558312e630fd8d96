"""``manage.py bench_scale``: incident API reads as the table grows, and writes per second.

Uses ``bench_api``'s benchmark setup and cleanup (``bench.incident_data``: incidents x systems
with the change log a service create would have written; on PostgreSQL streamed with ``COPY``
by ``bench.pg_bulk``) and its request helpers (``bench.api_requests``).

1. **Reads by size.** For each of ``--sizes`` (default 1,000, 100,000, 1,000,000) the incidents
   are seeded *incrementally* up to that size, the planner statistics refreshed (``VACUUM
   (ANALYZE)`` after ``COPY``), and measured through the Django test client (manager token),
   interleaved: the list in cursor mode (``&cursor=``) unfiltered and filtered by ``system``,
   ``status``, ``severity`` and ``search`` (a term matching one incident, one matching about
   1 %), the page-number list (with its ``COUNT(*)``) and an incident detail: p50/p99 and SQL
   queries per request, the share of the request spent executing SQL (an ``execute_wrapper``
   timer, no profiler), and p50(largest) / p50(smallest) against issue 18's 1.5x.
2. **Writes.** At the largest size, ``--workers`` (default 1, 2, 4) forked worker *processes*
   (forked after ``connections.close_all()``) each perform incident writes through the services
   for ``--duration`` seconds on their own share of ``--write-incidents`` random incidents:
   ``add_update`` with a status change and ``update_incident`` severity flips, alternately, each
   to a value different from the incident's current one, so every successful write changes the
   entity's state. mutations/s = successful writes / duration; the ``Change`` rows written by the
   phase are counted and must equal the successful writes. Meanwhile (PostgreSQL) the workers'
   backend states and wait events and any ungranted lock are sampled (a lock convoy would show).
3. **Where time goes.** cProfile of ``--profile-requests`` list requests at the largest size and
   of a ``--profile-seconds`` in-process mutation loop, self time grouped by layer (SQL driver,
   ORM, serialization, entity framework, ...), and (PostgreSQL) ``EXPLAIN (ANALYZE, BUFFERS)`` of
   every query of the list requests.

Everything the run created is removed at the end, also after an error
(``bench.incident_data.purge``; set-based on PostgreSQL). Run it on a database of its own, e.g.
``DATABASE_URL=postgres://.../benchscale``, with ``--settings=bench.settings``.
"""

from __future__ import annotations

import cProfile
import dataclasses
import gc
import io
import itertools
import json
import os
import pstats
import random
import sysconfig
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections
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
    search_terms,
    seed_incidents,
    seed_systems,
    seed_timelines,
)
from bench.pg_bulk import vacuum_analyze
from bench.queue import last_queued_task_id
from bench.stats import latency_summary, rate, timed
from checkstack.entities.conf import app_settings
from checkstack.entities.models import Change
from incidents import services
from incidents.entity import KIND as INCIDENT_KIND
from incidents.models import Incident

STATUSES = ("investigating", "identified", "fixing", "monitoring", "resolved")
SEED_CHUNK = 10_000  # incidents per bulk_create seeding call (bounded memory)
COPY_CHUNK = 50_000  # incidents per COPY transaction
STATUS_FILTER = "identified"  # an open status: about 20 % of the incidents
SEVERITY_FILTER = "critical"  # about 20 %
TARGET_RATIO = 1.5  # issue 18: p50 at the largest size <= 1.5 x p50 at the smallest
WAIT_SAMPLE_S = 0.05  # pg_stat_activity sampling interval during the write phases
VACUUMED = (
    "incidents_incident",
    "incidents_incidentsystem",
    "entities_change",
    "entities_transition",
    "entities_entitysequence",
)
STDLIB = sysconfig.get_paths()["stdlib"]
PLAN_LINE = 240  # characters kept of each plan line (the prefetch's IN list is long)
# name -> what the report calls it; all but page_count and detail in cursor mode (no count)
READS = {
    "cursor": "cursor, unfiltered",
    "cursor_system": "cursor, system=<id>",
    "cursor_status": f"cursor, status={STATUS_FILTER}",
    "cursor_severity": f"cursor, severity={SEVERITY_FILTER}",
    "cursor_search_rare": "cursor, search=<1 incident>",
    "cursor_search_1pct": "cursor, search=<~1 %>",
    "cursor_search_10pct": "cursor, search=<~10 %>",
    "page_count": "page numbers (COUNT(*))",
    "detail": "detail",
}
LAYERS = (
    ("sql", ("psycopg", "django/db/backends", "sqlite3")),
    ("orm", ("django/db/",)),
    (
        "serialization",
        (
            "rest_framework/serializers",
            "rest_framework/fields",
            "rest_framework/relations",
            "incidents/api/serializers",
        ),
    ),
    ("rendering", ("rest_framework/renderers", "rest_framework/utils/encoders", "json/")),
    ("entity_framework", ("checkstack/entities/",)),
    ("pydantic", ("pydantic",)),
    ("enqueue", ("django_q",)),
    ("services", ("incidents/", "catalog/", "checkstack/")),
    ("request_handling", ("rest_framework/", "django/")),
)


@dataclasses.dataclass(frozen=True)
class ScaleParams:
    sizes: tuple[int, ...] = (1_000, 100_000, 1_000_000)
    workers: tuple[int, ...] = (1, 2, 4)
    duration: float = 10.0
    systems: int = 200
    systems_per_incident: int = 3
    iterations: int = 100
    warmup: int = 10
    detail_incidents: int = 20
    resolved_share: float = 0.2
    profile_requests: int = 50
    profile_seconds: float = 3.0
    seed: int = 1
    seeding: str = "auto"  # auto (COPY on PostgreSQL), copy, orm (bulk_create)
    write_incidents: int = 50_000  # the writers' incidents: a random sample of the table


# -- reads ------------------------------------------------------------------------------------


@contextmanager
def sql_timer() -> Iterator[list[int]]:
    """Wall time of every statement executed meanwhile (ns), without a profiler."""
    spent: list[int] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        t0 = time.perf_counter_ns()
        try:
            return execute(sql, params, many, ctx)
        finally:
            spent.append(time.perf_counter_ns() - t0)

    with connection.execute_wrapper(wrapper):
        yield spent


def list_paths(data: BenchData) -> dict[str, str]:
    terms = search_terms(len(data.incident_ids))
    cursor = f"{LIST_PATH}&cursor="
    return {
        "cursor": cursor,
        "cursor_system": f"{cursor}&system={data.system_ids[0]}",
        "cursor_status": f"{cursor}&status={STATUS_FILTER}",
        "cursor_severity": f"{cursor}&severity={SEVERITY_FILTER}",
        "cursor_search_rare": f"{cursor}&search={terms['rare']}",
        "cursor_search_1pct": f"{cursor}&search={terms['one_percent']}",
        "cursor_search_10pct": f"{cursor}&search={terms['ten_percent']}",
        "page_count": LIST_PATH,
    }


def search_matches(data: BenchData) -> dict[str, int]:
    """How many of all the incidents each search term matches (the list shows the open ones)."""
    terms = search_terms(len(data.incident_ids))
    return {
        name: Incident.objects.filter(title__icontains=term).count() for name, term in terms.items()
    }


def read_requests(client: APIClient, data: BenchData) -> dict[str, Callable[[], Any]]:
    paths = list_paths(data)

    def get(path: str, name: str) -> Callable[[], Any]:
        return lambda: expect(client.get(path), 200, f"GET {name}")

    requests = {name: get(path, name) for name, path in paths.items()}
    details = itertools.count()

    def detail() -> Any:
        incident_id = data.detail_ids[next(details) % len(data.detail_ids)]
        return expect(client.get(f"/api/incidents/{incident_id}/"), 200, "GET detail")

    requests["detail"] = detail
    return requests


def measure_reads(
    client: APIClient, data: BenchData, *, iterations: int, warmup: int
) -> dict[str, Any]:
    requests = read_requests(client, data)
    queries = {name: queries_of(call) for name, call in requests.items()}
    # What a page shows: at the smallest size a filter may match fewer incidents than a page
    # holds, and a shorter page is cheaper to build whatever the table's size.
    rows = {name: rows_shown(call()) for name, call in requests.items()}
    samples: dict[str, list[int]] = {name: [] for name in requests}
    sql_ns: dict[str, int] = dict.fromkeys(requests, 0)
    names = list(requests)
    gc.collect()
    gc.disable()  # collector pauses would land on random samples
    try:
        for i in range(warmup + iterations):
            order = names[i % len(names) :] + names[: i % len(names)]  # rotate: same machine
            for name in order:
                with sql_timer() as spent:
                    ns, _ = timed(requests[name])
                if i >= warmup:
                    samples[name].append(ns)
                    sql_ns[name] += sum(spent)
    finally:
        gc.enable()
    results: dict[str, Any] = {}
    for name in names:
        total = sum(samples[name])
        results[name] = {
            **latency_summary(samples[name]),
            "queries": queries[name],
            "rows": rows[name],
            "sql_share": round(sql_ns[name] / total, 3) if total else 0.0,
        }
    return results


def rows_shown(response: Any) -> int:
    """Incidents in a list page's answer (1 for the detail)."""
    data = response.json()
    return len(data["results"]) if "results" in data else 1


def uses_copy(params: ScaleParams) -> bool:
    if params.seeding == "copy" and connection.vendor != "postgresql":
        raise CommandError("--seeding copy needs PostgreSQL")
    return params.seeding == "copy" or (
        params.seeding == "auto" and connection.vendor == "postgresql"
    )


def seed_up_to(
    data: BenchData, rng: random.Random, params: ScaleParams, size: int
) -> dict[str, float]:
    """Insert incidents until the run holds ``size`` of them, then fresh statistics (COPY:
    ``VACUUM (ANALYZE)``); seconds each took."""
    copy = uses_copy(params)
    t0 = time.perf_counter()
    now = timezone.now()
    while len(data.incident_ids) < size:
        seed_incidents(
            data,
            rng,
            count=min(COPY_CHUNK if copy else SEED_CHUNK, size - len(data.incident_ids)),
            systems_per_incident=params.systems_per_incident,
            resolved_share=params.resolved_share,
            now=now,
            copy=copy,
        )
    t1 = time.perf_counter()
    if copy:
        vacuum_analyze(VACUUMED)
    analyze()
    return {"insert": round(t1 - t0, 2), "analyze": round(time.perf_counter() - t1, 2)}


# -- writes -----------------------------------------------------------------------------------


def bench_actor(tag: str) -> dict[str, str]:
    return {"type": "system", "id": f"bench-scale-{tag}", "name": "bench_scale"}


def current_states(ids: list[str]) -> dict[str, list[str]]:
    """``{id: [status, severity]}`` of the given incidents, read in chunks."""
    states: dict[str, list[str]] = {}
    for start in range(0, len(ids), 5000):
        part = ids[start : start + 5000]
        for pk, status, severity in Incident.objects.filter(pk__in=part).values_list(
            "pk", "status", "severity"
        ):
            states[pk] = [status, severity]
    return states


def mutation_loop(
    states: dict[str, list[str]],
    rng: random.Random,
    actor: dict[str, str],
    *,
    start_at: float,
    duration: float,
) -> dict[str, Any]:
    """Writes on random incidents of ``states`` until ``start_at + duration`` (monotonic)."""
    ids = list(states)
    writes = errors = 0
    error_sample: str | None = None
    latencies: list[int] = []
    while time.monotonic() < start_at:
        time.sleep(0.005)
    deadline = start_at + duration
    n = 0
    while time.monotonic() < deadline:
        incident_id = rng.choice(ids)
        state = states[incident_id]
        t0 = time.perf_counter_ns()
        try:
            if n % 2 == 0:
                status = rng.choice([s for s in STATUSES if s != state[0]])
                services.add_update(
                    incident_id,
                    message=f"bench_scale: now {status}",
                    status_change=status,
                    actor=actor,
                )
                state[0] = status
            else:
                severity = rng.choice([s for s in SEVERITIES if s != state[1]])
                services.update_incident(incident_id, severity=severity, actor=actor)
                state[1] = severity
            writes += 1
            latencies.append(time.perf_counter_ns() - t0)
        except Exception as exc:  # counted, reported, the loop goes on
            errors += 1
            error_sample = error_sample or f"{type(exc).__name__}: {exc}"
        n += 1
    elapsed = time.monotonic() - start_at
    return {
        "writes": writes,
        "errors": errors,
        "error_sample": error_sample,
        "elapsed_s": round(elapsed, 3),
        "latency": latency_summary(latencies) if latencies else None,
    }


def run_worker(read_fd: int, write_fd: int, work: Callable[[], dict[str, Any]]) -> None:
    """In the forked child: run ``work``, send its JSON result, never return."""
    os.close(read_fd)
    status = 0
    try:
        result = work()
    except BaseException as exc:  # reported to the parent
        result = {"writes": 0, "errors": 1, "error_sample": f"{type(exc).__name__}: {exc}"}
        status = 1
    try:
        connections.close_all()
        with os.fdopen(write_fd, "w") as pipe:
            pipe.write(json.dumps(result))
    finally:
        os._exit(status)


WAITS_SQL = """
    SELECT a.state || coalesce(' ' || a.wait_event_type || ':' || a.wait_event, ' (on CPU)')
    FROM pg_stat_activity a
    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
      AND a.backend_type = 'client backend'
"""
LOCK_WAITS_SQL = """
    SELECT l.locktype || ' ' || l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE NOT l.granted AND a.datname = current_database()
"""


def sample_waits(until: float) -> dict[str, Any]:
    """What the database's other client backends wait on, sampled every ``WAIT_SAMPLE_S``
    until ``until`` (monotonic), and the ungranted locks seen (PostgreSQL; {} elsewhere)."""
    if connection.vendor != "postgresql":
        while time.monotonic() < until:
            time.sleep(WAIT_SAMPLE_S)
        return {}
    waits: dict[str, int] = {}
    locks: dict[str, int] = {}
    samples = 0
    with connection.cursor() as cursor:
        while time.monotonic() < until:
            cursor.execute(WAITS_SQL)
            for (label,) in cursor.fetchall():
                waits[label] = waits.get(label, 0) + 1
            cursor.execute(LOCK_WAITS_SQL)
            for (label,) in cursor.fetchall():
                locks[label] = locks.get(label, 0) + 1
            samples += 1
            time.sleep(WAIT_SAMPLE_S)
    connections.close_all()
    total = sum(waits.values()) or 1
    return {
        "samples": samples,
        "backend_states": {
            k: round(v / total, 3) for k, v in sorted(waits.items(), key=lambda kv: -kv[1])
        },
        "ungranted_locks": dict(sorted(locks.items(), key=lambda kv: -kv[1])),
    }


def write_sample(data: BenchData, params: ScaleParams, rng: random.Random) -> list[str]:
    """The incidents the writers work on: a random sample of the whole table."""
    ids = sorted(data.incident_ids)
    return rng.sample(ids, min(len(ids), params.write_incidents))


def mutation_phase(
    data: BenchData, params: ScaleParams, workers: int, rng: random.Random
) -> dict[str, Any]:
    ids = write_sample(data, params, rng)
    shares = [ids[k::workers] for k in range(workers)]
    states = current_states(ids)
    actor = bench_actor(f"{uuid.uuid4().hex[:8]}-w{workers}")
    seeds = [rng.randrange(2**32) for _ in range(workers)]
    connections.close_all()  # no child may share the parent's socket
    start_at = time.monotonic() + 1.0  # every child connected and waiting before the start
    children: list[tuple[int, int]] = []
    for k in range(workers):
        read_fd, write_fd = os.pipe()
        share = {pk: states[pk] for pk in shares[k] if pk in states}
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            worker_rng = random.Random(seeds[k])

            def work(share: dict[str, list[str]] = share, r: random.Random = worker_rng) -> Any:
                connection.ensure_connection()
                return mutation_loop(share, r, actor, start_at=start_at, duration=params.duration)

            run_worker(read_fd, write_fd, work)
        os.close(write_fd)
        children.append((pid, read_fd))
    load_before = os.getloadavg()[0]
    waits = sample_waits(start_at + params.duration - 0.2)
    per_worker: list[dict[str, Any]] = []
    for pid, read_fd in children:
        with os.fdopen(read_fd) as pipe:
            raw = pipe.read()
        _, status = os.waitpid(pid, 0)
        result = json.loads(raw) if raw else {"writes": 0, "errors": 1, "error_sample": "no result"}
        result["exit_status"] = os.waitstatus_to_exitcode(status)
        per_worker.append(result)
    writes = sum(int(r["writes"]) for r in per_worker)
    changes = Change.objects.filter(kind=INCIDENT_KIND, actor__id=actor["id"]).count()
    return {
        "workers": workers,
        "duration_s": params.duration,
        "writes": writes,
        "errors": sum(int(r["errors"]) for r in per_worker),
        "mutations_per_s": rate(writes, params.duration),
        "changes_written": changes,
        "changes_match_writes": changes == writes,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "waits": waits,
        "per_worker": per_worker,
    }


# -- profiles ---------------------------------------------------------------------------------


def layer_of(filename: str) -> str:
    path = filename.replace("\\", "/")
    for layer, markers in LAYERS:
        if any(marker in path for marker in markers):
            return layer
    return "other"


def is_python_internal(filename: str) -> bool:
    """Builtins and the standard library: their time belongs to whoever called them."""
    return filename == "~" or (filename.startswith(STDLIB) and "site-packages" not in filename)


def self_time_by_layer(profile: cProfile.Profile) -> dict[str, Any]:
    """Self time per layer; builtins and stdlib functions count for the layers calling them."""
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    memo: dict[Any, dict[str, float]] = {}

    def weights(func: Any, depth: int = 0) -> dict[str, float]:
        if not is_python_internal(func[0]):
            return {layer_of(func[0]): 1.0}
        if func in memo:
            return memo[func]
        memo[func] = {"other": 1.0}  # cycle guard
        callers = stats.get(func, (0, 0, 0, 0, {}))[4]
        total = sum(edge[3] for edge in callers.values())
        if depth > 8 or not callers or total <= 0:
            return memo[func]
        result: dict[str, float] = {}
        for caller, edge in callers.items():
            for layer, share in weights(caller, depth + 1).items():
                result[layer] = result.get(layer, 0.0) + share * edge[3] / total
        memo[func] = result
        return result

    layers: dict[str, float] = {}
    for func, (_, _, tottime, _, _) in stats.items():
        for layer, share in weights(func).items():
            layers[layer] = layers.get(layer, 0.0) + tottime * share
    total = sum(layers.values()) or 1.0
    ordered = sorted(layers.items(), key=lambda item: -item[1])
    return {
        "total_s": round(total, 3),
        "layers": {name: round(seconds / total, 3) for name, seconds in ordered},
    }


def top_functions(profile: cProfile.Profile, limit: int = 12) -> list[str]:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return [line for line in lines[start:] if line.strip()]


def profile_list(client: APIClient, data: BenchData, requests: int) -> dict[str, Any]:
    call = read_requests(client, data)["cursor"]
    call()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        call()
    profile.disable()
    return {"requests": requests, **self_time_by_layer(profile), "top": top_functions(profile)}


def profile_mutations(data: BenchData, params: ScaleParams, rng: random.Random) -> dict[str, Any]:
    states = current_states(write_sample(data, params, rng)[:5000])
    actor = bench_actor(f"{uuid.uuid4().hex[:8]}-profile")
    profile = cProfile.Profile()
    profile.enable()
    result = mutation_loop(
        states, rng, actor, start_at=time.monotonic(), duration=params.profile_seconds
    )
    profile.disable()
    return {
        "writes": result["writes"],
        "errors": result["errors"],
        **self_time_by_layer(profile),
        "top": top_functions(profile),
    }


def explain_list(client: APIClient, data: BenchData) -> dict[str, list[str]]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of each query of the list requests (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return {}
    plans: dict[str, list[str]] = {}
    for name, call in read_requests(client, data).items():
        if name == "detail":
            continue
        with CaptureQueriesContext(connection) as captured:
            call()
        selects = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
        for n, sql in enumerate(selects):
            if any(table in sql for table in ("authtoken_token", "auth_user", "axes_")):
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                plans[f"{name}#{n}"] = [
                    sql[:PLAN_LINE],
                    *(row[0][:PLAN_LINE] for row in cursor.fetchall()),
                ]
    return plans


# -- run --------------------------------------------------------------------------------------


def run_scale(params: ScaleParams, progress: Callable[[str], Any] = print) -> dict[str, Any]:
    """The benchmark; ``progress`` gets a line per finished step (the report comes at the end)."""
    rng = random.Random(params.seed)
    data = BenchData(queued_after=last_queued_task_id())
    results: dict[str, Any] = {"sizes": [], "mutations": []}
    results["seeding"] = "copy" if uses_copy(params) else "orm"
    try:
        seed_systems(data, params.systems, timezone.now())
        token, user = create_manager(data)
        client = token_client(token)
        for size in params.sizes:
            seed_seconds = seed_up_to(data, rng, params, size)
            if not data.detail_ids:
                seed_timelines(data, user, incidents=params.detail_incidents, updates=6, links=3)
                if not data.detail_ids:
                    raise CommandError("no open incident for the detail: lower --resolved-share")
            load_before = os.getloadavg()[0]
            reads = measure_reads(client, data, iterations=params.iterations, warmup=params.warmup)
            progress(
                f"{len(data.incident_ids)} incidents (seeded in {seed_seconds}): p50 ms "
                + ", ".join(f"{name} {row['p50_ms']:.1f}" for name, row in reads.items())
            )
            results["sizes"].append(
                {
                    "incidents": len(data.incident_ids),
                    "seed_seconds": seed_seconds,
                    "search_terms": search_terms(len(data.incident_ids)),
                    "search_matches": search_matches(data),
                    "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                    **reads,
                }
            )
        results["ratios"] = ratios(results["sizes"])
        results["relation_sizes"] = relation_sizes()
        results["explain"] = explain_list(client, data)
        results["profile_list"] = profile_list(client, data, params.profile_requests)
        for workers in params.workers:
            results["mutations"].append(mutation_phase(data, params, workers, rng))
            progress(f"{workers} writers: {results['mutations'][-1]['mutations_per_s']}/s")
        results["profile_mutations"] = profile_mutations(data, params, rng)
    finally:
        connections.close_all()
        progress("cleanup")
        cleanup_ns, removed = timed(lambda: purge(data))
    results["cleanup"] = {"seconds": round(cleanup_ns / 1e9, 2), **removed}
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["database"] = database_facts()
    results["machine"] = machine_facts()
    results["enqueue"] = app_settings.ENQUEUE
    results["parameters"] = dataclasses.asdict(params)
    return results


def relation_sizes() -> dict[str, dict[str, int]]:
    """Table and index MB of the big tables (PostgreSQL), against ``shared_buffers``."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_table_size(c.oid) / 1048576, pg_indexes_size(c.oid) / 1048576 "
            "FROM pg_class c WHERE c.relname = ANY(%s) ORDER BY c.relname",
            [list(VACUUMED)],
        )
        return {name: {"table_mb": t, "indexes_mb": i} for name, t, i in cursor.fetchall()}


def ratios(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """p50 at the largest size over p50 at the smallest, per read, against ``TARGET_RATIO``."""
    if len(sizes) < 2:
        return {}
    small, large = sizes[0], sizes[-1]
    out: dict[str, Any] = {}
    for name in READS:
        ratio = large[name]["p50_ms"] / small[name]["p50_ms"] if small[name]["p50_ms"] else 0.0
        out[name] = {
            "from": small["incidents"],
            "to": large["incidents"],
            "ratio": round(ratio, 2),
            "target": TARGET_RATIO,
            "met": ratio <= TARGET_RATIO,
        }
    return out


def report_of(results: dict[str, Any]) -> list[report.Block]:
    db, machine = results["database"], results["machine"]
    reads = report.Table(
        [
            report.Column("incidents"),
            report.Column("request", left=True),
            report.Column("p50 ms", ".2f"),
            report.Column("p99 ms", ".2f"),
            report.Column("queries"),
            report.Column("rows"),
            report.Column("sql", ".1%"),
        ]
    )
    for size in results["sizes"]:
        for name, label in READS.items():
            row = size[name]
            reads.add(
                size["incidents"],
                label,
                row["p50_ms"],
                row["p99_ms"],
                row["queries"],
                row["rows"],
                row["sql_share"],
            )
    writes = report.Table(
        [
            report.Column("workers"),
            report.Column("writes"),
            report.Column("errors"),
            report.Column("mut/s", ".1f"),
            report.Column("changes"),
            report.Column("match", left=True),
            report.Column("load", left=True),
            report.Column("backends (share of samples)", left=True),
            report.Column("lock waits", left=True),
        ]
    )
    for phase in results["mutations"]:
        writes.add(
            phase["workers"],
            phase["writes"],
            phase["errors"],
            phase["mutations_per_s"],
            phase["changes_written"],
            str(phase["changes_match_writes"]),
            " -> ".join(map(str, phase["load_average"])),
            ", ".join(
                f"{k} {100 * v:.0f}%"
                for k, v in list(phase["waits"].get("backend_states", {}).items())[:4]
            ),
            ", ".join(f"{k}: {v}" for k, v in phase["waits"].get("ungranted_locks", {}).items())
            or "none",
        )
    ratio_table = report.Table(
        [
            report.Column("request", left=True),
            report.Column("from"),
            report.Column("to"),
            report.Column("p50 ratio", ".2f"),
            report.Column("target", ".1f"),
            report.Column("met", left=True),
        ]
    )
    for name, row in results.get("ratios", {}).items():
        ratio_table.add(
            READS[name], row["from"], row["to"], row["ratio"], row["target"], str(row["met"])
        )
    sizes = report.Table(
        [
            report.Column("incidents"),
            report.Column("insert s", ".2f"),
            report.Column("vacuum/analyze s", ".2f"),
            report.Column("search matches", left=True),
            report.Column("load", left=True),
        ]
    )
    for size in results["sizes"]:
        sizes.add(
            size["incidents"],
            size["seed_seconds"]["insert"],
            size["seed_seconds"]["analyze"],
            ", ".join(
                f"{size['search_terms'][k]!r}: {v}" for k, v in size["search_matches"].items()
            ),
            " -> ".join(map(str, size["load_average"])),
        )
    blocks: list[report.Block] = [
        f"bench_scale on {db['vendor']} {db['version']} ({db['name']}), {machine['cpus']} CPUs, "
        f"load {machine['load_average']}, seeding {results['seeding']}",
        "",
        sizes,
        "",
        reads,
        "",
        ratio_table,
        "",
        writes,
    ]
    for key in ("profile_list", "profile_mutations"):
        profile = results.get(key)
        if profile:
            shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in profile["layers"].items())
            blocks += [
                "",
                f"{key} (self time by layer): {shares}",
                report.Preformatted(profile["top"]),
            ]
    if results.get("relation_sizes"):
        blocks += [
            "",
            "MB at the largest size (table + indexes): "
            + ", ".join(
                f"{name} {v['table_mb']} + {v['indexes_mb']}"
                for name, v in results["relation_sizes"].items()
            ),
        ]
    for name, plan in results.get("explain", {}).items():
        blocks += ["", f"EXPLAIN {name}:", report.Preformatted(plan)]
    removed = {k: v for k, v in results["cleanup"].items() if k != "seconds"}
    return [
        *blocks,
        "",
        report.cleanup_line(removed, extra=f" in {results['cleanup']['seconds']} s"),
    ]


def int_list(value: str) -> tuple[int, ...]:
    try:
        numbers = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise CommandError(f"not a comma-separated list of integers: {value!r}") from exc
    if not numbers or min(numbers) < 1:
        raise CommandError(f"give positive integers: {value!r}")
    return numbers


class Command(BaseCommand):
    help = (
        "Incident list/detail latency and query counts at growing sizes, sustained incident "
        "writes per second with 1, 2 and 4 worker processes, and profiles of both. Removes "
        "everything it created."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = ScaleParams()
        parser.add_argument("--sizes", default=",".join(map(str, defaults.sizes)))
        parser.add_argument("--workers", default=",".join(map(str, defaults.workers)))
        parser.add_argument("--duration", type=float, default=defaults.duration)
        parser.add_argument("--systems", type=int, default=defaults.systems)
        parser.add_argument(
            "--systems-per-incident", type=int, default=defaults.systems_per_incident
        )
        parser.add_argument("--iterations", type=int, default=defaults.iterations)
        parser.add_argument("--warmup", type=int, default=defaults.warmup)
        parser.add_argument("--detail-incidents", type=int, default=defaults.detail_incidents)
        parser.add_argument("--resolved-share", type=float, default=defaults.resolved_share)
        parser.add_argument("--profile-requests", type=int, default=defaults.profile_requests)
        parser.add_argument("--profile-seconds", type=float, default=defaults.profile_seconds)
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument(
            "--seeding",
            choices=("auto", "copy", "orm"),
            default=defaults.seeding,
            help="auto: COPY on PostgreSQL, bulk_create elsewhere.",
        )
        parser.add_argument("--write-incidents", type=int, default=defaults.write_incidents)
        report.add_output_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        sizes = int_list(str(options["sizes"]))
        if list(sizes) != sorted(set(sizes)):
            raise CommandError("--sizes must be increasing")
        params = ScaleParams(
            sizes=sizes,
            workers=int_list(str(options["workers"])),
            duration=options["duration"],
            systems=options["systems"],
            systems_per_incident=options["systems_per_incident"],
            iterations=options["iterations"],
            warmup=options["warmup"],
            detail_incidents=options["detail_incidents"],
            resolved_share=options["resolved_share"],
            profile_requests=options["profile_requests"],
            profile_seconds=options["profile_seconds"],
            seed=options["seed"],
            seeding=options["seeding"],
            write_incidents=options["write_incidents"],
        )
        if params.systems < params.systems_per_incident or params.systems_per_incident < 1:
            raise CommandError("--systems must be at least --systems-per-incident (>= 1)")
        if params.iterations < 1 or params.warmup < 0 or params.duration <= 0:
            raise CommandError("--iterations >= 1, --warmup >= 0 and --duration > 0")
        if params.profile_requests < 1 or params.profile_seconds <= 0:
            raise CommandError("--profile-requests >= 1 and --profile-seconds > 0")
        if params.write_incidents < 1:
            raise CommandError("--write-incidents >= 1")
        uses_copy(params)  # --seeding copy on another database: refused before writing
        report.write(self.stdout, run_scale(params, self.stderr.write), report_of, options)
