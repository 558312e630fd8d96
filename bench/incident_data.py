"""The seeded incident data set of ``bench_api`` and ``bench_scale``: catalog systems and
incidents bulk-inserted with the change log a service create would have written, a few
timelines, a manager with a token; and the removal of every row of it (``BenchData`` keeps
what a run created, so the cleanup removes exactly that).

BENCHMARK SETUP, not the code under test: no trigger events or deliveries are seeded, so no
automation or subscriber ever sees the seeded rows, while later entity writes on them work.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import uuid
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Q
from rest_framework.authtoken.models import Token

from catalog.entity import SYSTEM_KIND
from catalog.models import System
from checkstack.entities.models import Change, EntitySequence, Transition
from checkstack.entities.outbox import DISPATCH_TASK
from incidents.entity import KIND as INCIDENT_KIND
from incidents.entity import UPDATE_KIND
from incidents.models import Incident, IncidentLink, IncidentSystem, IncidentUpdate

from . import pg_bulk
from .batches import chunks
from .change_log import BATCH, Entities, delete_change_log, outbox_jobs, write_create_log
from .queue import delivery_jobs, jobs, purge_queued_tasks

SETUP_ACTOR = {"type": "system", "id": "bench-api", "name": "bench_api (setup)"}
SYSTEM_PREFIX = "bench-api-"
OPEN_STATUSES = ("investigating", "identified", "fixing", "monitoring")
SEVERITIES = ("minor", "major", "critical")
SEVERITY_WEIGHTS = (3, 5, 2)
VISIBILITIES = ("public", "logged_in", "internal")
MANAGE_PERMISSIONS = (("incidents", "manage_incident"), ("catalog", "manage_catalog"))
DESCRIPTION = "Seeded by manage.py bench_api."
SYMPTOMS = ("elevated error rate", "high latency", "timeouts", "partial outage", "degraded")
COMPONENTS = 100  # svc-00 ... svc-99 in the titles: each name matches about 1 %
RARE_NUMBER = 777  # the incident whose number the rare search term is


@dataclasses.dataclass
class BenchData:
    """What the run created, so cleanup removes exactly that."""

    system_ids: list[str] = dataclasses.field(default_factory=list)
    incident_ids: set[str] = dataclasses.field(default_factory=set)
    detail_ids: list[str] = dataclasses.field(default_factory=list)
    user_pk: int | None = None
    queued_after: int = 0

    def entities(self) -> list[Entities]:
        return [
            Entities(INCIDENT_KIND, ids=self.incident_ids),
            Entities(UPDATE_KIND, ids=self.update_ids()),
            Entities(SYSTEM_KIND, ids=self.system_ids),
        ]

    def update_ids(self) -> set[str]:
        """The timeline updates (kind ``incident-update``) logged for the run's incidents."""
        ids: set[str] = set()
        for part in chunks(sorted(self.incident_ids), BATCH):
            ids.update(
                Change.objects.filter(kind=UPDATE_KIND)
                .filter(Q(next__incidentId__in=part) | Q(prev__incidentId__in=part))
                .values_list("entity_id", flat=True)
            )
        return ids


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
    write_create_log(
        SYSTEM_KIND,
        {
            system_id: {"name": f"Bench system {n:04d}", "description": None, "metadata": {}}
            for n, system_id in enumerate(data.system_ids)
        },
        dict.fromkeys(data.system_ids, now),
        actor=SETUP_ACTOR,
    )


@dataclasses.dataclass(frozen=True)
class SeedIncident:
    """One seeded incident: its row, its systems, and the state its create change logged."""

    id: str
    title: str
    status: str
    severity: str
    created_at: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None
    system_ids: list[str]

    def state(self) -> dict[str, Any]:
        return {"status": self.status, "severity": self.severity, "systemIds": self.system_ids}


def search_terms(size: int) -> dict[str, str]:
    """Title fragments for ``search``: one matching one incident (its number), one matching
    about 1 % (a component, ``svc-00`` ... ``svc-99``, drawn uniformly) and one about 10 %
    (``svc-40`` ... ``svc-49``: a full page of matches already at 1,000 incidents)."""
    return {
        "rare": f"{min(size - 1, RARE_NUMBER):07d}",
        "one_percent": "svc-42",
        "ten_percent": "svc-4",
    }


def seed_rows(
    rng: random.Random,
    system_ids: list[str],
    *,
    first: int,
    count: int,
    systems_per_incident: int,
    resolved_share: float,
    now: dt.datetime,
) -> Iterator[SeedIncident]:
    """``count`` incidents numbered from ``first`` (the number is in the title)."""
    for n in range(first, first + count):
        created_at = now - dt.timedelta(seconds=rng.randint(3600, 90 * 86400))
        updated_at = min(now, created_at + dt.timedelta(seconds=rng.randint(0, 2 * 86400)))
        resolved = rng.random() < resolved_share
        yield SeedIncident(
            id=str(uuid.uuid4()),
            title=(
                f"Bench incident {n:07d}: {rng.choice(SYMPTOMS)} on "
                f"svc-{rng.randrange(COMPONENTS):02d}"
            ),
            status="resolved" if resolved else rng.choice(OPEN_STATUSES),
            severity=rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0],
            created_at=created_at,
            updated_at=updated_at,
            resolved_at=updated_at if resolved else None,
            system_ids=sorted(rng.sample(system_ids, systems_per_incident)),
        )


def seed_incidents(
    data: BenchData,
    rng: random.Random,
    *,
    count: int,
    systems_per_incident: int,
    resolved_share: float,
    now: dt.datetime,
    copy: bool = False,
) -> None:
    """Insert ``count`` more incidents with their links and create log: ``bulk_create``, or
    with ``copy`` (PostgreSQL) one ``COPY`` per table (``bench.pg_bulk``)."""
    incidents: list[Incident] = []
    links: list[IncidentSystem] = []
    states: dict[str, dict[str, Any]] = {}
    created: dict[str, dt.datetime] = {}
    rows = seed_rows(
        rng,
        data.system_ids,
        first=len(data.incident_ids),
        count=count,
        systems_per_incident=systems_per_incident,
        resolved_share=resolved_share,
        now=now,
    )
    if copy:
        batch = list(rows)
        pg_bulk.copy_incidents(batch, description=DESCRIPTION, actor=SETUP_ACTOR)
        data.incident_ids.update(row.id for row in batch)
        return
    for row in rows:
        incidents.append(
            Incident(
                id=row.id,
                title=row.title,
                description=DESCRIPTION,
                status=row.status,
                severity=row.severity,
                created_at=row.created_at,
                updated_at=row.updated_at,
                resolved_at=row.resolved_at,
            )
        )
        links += [IncidentSystem(incident_id=row.id, system_id=s) for s in row.system_ids]
        states[row.id] = row.state()
        created[row.id] = row.created_at
    Incident.objects.bulk_create(incidents, batch_size=BATCH)
    data.incident_ids.update(states)
    IncidentSystem.objects.bulk_create(links, batch_size=BATCH)
    write_create_log(INCIDENT_KIND, states, created, actor=SETUP_ACTOR)


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
    """A user holding both manage permissions, and its API token."""
    user = get_user_model().objects.create_user(
        username=f"bench_api_{uuid.uuid4().hex[:8]}", first_name="Bench", last_name="Manager"
    )
    data.user_pk = user.pk
    for app_label, codename in MANAGE_PERMISSIONS:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return Token.objects.create(user=user).key, user


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


def purge(data: BenchData) -> dict[str, int]:
    """Delete every row the run created; returns how many of each. PostgreSQL: set-based
    (``bench.pg_bulk.purge_run``); elsewhere in chunks of ids."""
    if connection.vendor == "postgresql":
        purged = pg_bulk.purge_run(data.incident_ids, data.system_ids)
        counts = {
            "queued_tasks": purge_queued_tasks(
                jobs(DISPATCH_TASK, purged.trigger_event_ids) | delivery_jobs(purged.deliveries),
                data.queued_after,
            ),
            **purged.counts,
        }
        counts["systems"] = delete_systems(data)
        counts["users"] = delete_user(data)
        return counts
    entities = data.entities()
    counts = {"queued_tasks": purge_queued_tasks(outbox_jobs(entities), data.queued_after)}
    counts.update(delete_change_log(entities))
    counts["incidents"] = sum(
        Incident.objects.filter(pk__in=part).delete()[1].get("incidents.Incident", 0)
        for part in chunks(data.incident_ids)
    )
    counts["systems"] = delete_systems(data)
    counts["users"] = delete_user(data)
    return counts


def delete_systems(data: BenchData) -> int:
    return sum(
        System.objects.filter(pk__in=part).delete()[1].get("catalog.System", 0)
        for part in chunks(data.system_ids)
    )


def delete_user(data: BenchData) -> int:
    if data.user_pk is None:
        return 0
    deleted = get_user_model().objects.filter(pk=data.user_pk).delete()[1]
    return sum(n for label, n in deleted.items() if label.endswith(".User"))
