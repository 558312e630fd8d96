"""PostgreSQL fast path of the benchmark data set (``bench.incident_data``): incidents, their
system links and their create log streamed with ``COPY ... FROM STDIN`` (psycopg 3), and the
removal of a run's rows in a few set-based statements joined on a temporary table of its ids.

The rows are those ``seed_incidents`` would have written (same generator, same change log);
the database's triggers run as usual (the link rows' copy of ``updated_at`` is filled by the
insert trigger of migration 0003, so links are copied after their incidents).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction

from catalog.entity import SYSTEM_KIND
from checkstack.entities.diff import changed_fields, delta_of
from incidents.entity import KIND as INCIDENT_KIND
from incidents.entity import UPDATE_KIND

if TYPE_CHECKING:
    from .incident_data import SeedIncident

INCIDENT_COLUMNS = (
    "id, title, description, status, severity, suppress_notifications, health_override, "
    "visibility, created_at, updated_at, resolved_at"
)


def _dumps(value: Any) -> str | None:
    """A JSONField value as COPY text; ``None`` is SQL NULL, as the ORM stores it."""
    return None if value is None else json.dumps(value)


def copy_incidents(
    rows: Sequence[SeedIncident], *, description: str, actor: dict[str, str]
) -> None:
    """Insert ``rows`` in one transaction: incidents, links, sequences, create changes and
    transitions, each table in one ``COPY``."""
    actor_json = json.dumps(actor)
    with transaction.atomic():
        connection.ensure_connection()
        raw: Any = connection.connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY incidents_incident ({INCIDENT_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(
                        (
                            row.id,
                            row.title,
                            description,
                            row.status,
                            row.severity,
                            False,
                            None,
                            "public",
                            row.created_at,
                            row.updated_at,
                            row.resolved_at,
                        )
                    )
            with cursor.copy(
                "COPY incidents_incidentsystem (incident_id, system_id) FROM STDIN"
            ) as copy:
                for row in rows:
                    for system_id in row.system_ids:
                        copy.write_row((row.id, system_id))
            with cursor.copy(
                "COPY entities_entitysequence (kind, entity_id, last_seq, locks) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row((INCIDENT_KIND, row.id, 1, 0))
            transitions: list[tuple[Any, ...]] = []
            with cursor.copy(
                "COPY entities_change (change_id, kind, entity_id, seq, prev, next, delta, "
                "changed_fields, actor, run_id, occurred_at, request_id) FROM STDIN"
            ) as copy:
                for row in rows:
                    state = row.state()
                    fields = changed_fields(None, state)
                    change_id = uuid.uuid4()
                    copy.write_row(
                        (
                            change_id,
                            INCIDENT_KIND,
                            row.id,
                            1,
                            None,
                            json.dumps(state),
                            json.dumps(delta_of(state, fields)),
                            json.dumps(fields),
                            actor_json,
                            None,
                            row.created_at,
                            None,
                        )
                    )
                    transitions += [
                        (change_id, row.id, field, _dumps(state.get(field)), row.created_at)
                        for field in fields
                    ]
            with cursor.copy(
                "COPY entities_transition (change_id, kind, entity_id, field, from_value, "
                "to_value, occurred_at) FROM STDIN"
            ) as copy:
                for change_id, entity_id, field, to_value, occurred_at in transitions:
                    copy.write_row(
                        (change_id, INCIDENT_KIND, entity_id, field, None, to_value, occurred_at)
                    )


def vacuum_analyze(tables: Iterable[str]) -> None:
    """``VACUUM (ANALYZE)``: statistics, hint bits and the visibility map after a bulk load, as
    autovacuum would leave a live table (and so autovacuum does not start mid-measurement)."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")


# The run's entities (kind, id): its incidents, the timeline updates logged for them (found
# through the change log, so deleted updates count too), its systems.
RUN_ENTITIES = """
    CREATE TEMPORARY TABLE bench_run_entities (kind varchar(100), entity_id varchar(255))
    ON COMMIT DROP
"""
# Joins, not ``IN (SELECT ...)``: a million ids do not fit a hashed subplan in work_mem, and the
# plain subplan rescans them for every change row (minutes at 1M instead of 0.1 s).
UPDATE_ENTITIES = """
    INSERT INTO bench_run_entities (kind, entity_id)
    SELECT c.kind, c.entity_id FROM entities_change c
    JOIN bench_run_incidents r ON r.id = c.next ->> 'incidentId' WHERE c.kind = %(kind)s
    UNION
    SELECT c.kind, c.entity_id FROM entities_change c
    JOIN bench_run_incidents r ON r.id = c.prev ->> 'incidentId' WHERE c.kind = %(kind)s
"""
OF_RUN_ENTITIES = "USING bench_run_entities e WHERE t.kind = e.kind AND t.entity_id = e.entity_id"
CHANGE_OF_RUN = """
    USING entities_change c, bench_run_entities e
    WHERE t.change_id = c.change_id AND c.kind = e.kind AND c.entity_id = e.entity_id
"""
OF_RUN_INCIDENTS = "USING bench_run_incidents r WHERE t.incident_id = r.id"


@dataclasses.dataclass
class Purged:
    """Rows deleted per table, and the outbox rows among them (whose queued tasks go too)."""

    counts: dict[str, int]
    trigger_event_ids: list[str]
    deliveries: list[tuple[str, str, str]]  # (id, change id, group)


def purge_run(incident_ids: Collection[str], system_ids: Collection[str]) -> Purged:
    """Delete the run's incidents with their system links, updates and links, and the change
    log of its incidents, timeline updates and systems, in one transaction of set-based
    statements: the ids go into temporary tables, each table is deleted from with a join. The
    systems themselves and the user are left to the caller."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        connection.ensure_connection()
        raw: Any = connection.connection
        with raw.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE bench_run_incidents (id varchar(36)) ON COMMIT DROP"
            )
            with cursor.copy("COPY bench_run_incidents (id) FROM STDIN") as copy:
                for incident_id in incident_ids:
                    copy.write_row((incident_id,))
            # The key after the load: one index build instead of a million inserts into it.
            cursor.execute("ALTER TABLE bench_run_incidents ADD PRIMARY KEY (id)")
            cursor.execute("ANALYZE bench_run_incidents")
            cursor.execute(RUN_ENTITIES)
            cursor.execute(
                "INSERT INTO bench_run_entities (kind, entity_id) "
                "SELECT %s, id FROM bench_run_incidents",
                (INCIDENT_KIND,),
            )
            cursor.execute(UPDATE_ENTITIES, {"kind": UPDATE_KIND})
            with cursor.copy("COPY bench_run_entities (kind, entity_id) FROM STDIN") as copy:
                for system_id in system_ids:
                    copy.write_row((SYSTEM_KIND, system_id))
            cursor.execute("ANALYZE bench_run_entities")

            cursor.execute(f"DELETE FROM entities_triggerevent t {CHANGE_OF_RUN} RETURNING t.id")
            events = [str(row[0]) for row in cursor.fetchall()]
            cursor.execute(
                f"DELETE FROM entities_delivery t {OF_RUN_ENTITIES} "
                'RETURNING t.id, t.change_id, t."group"'
            )
            deliveries = [(str(pk), str(cid), grp) for pk, cid, grp in cursor.fetchall()]
            counts["trigger_events"], counts["deliveries"] = len(events), len(deliveries)
            for name, table in (
                ("transitions", "entities_transition"),
                ("changes", "entities_change"),
                ("sequences", "entities_entitysequence"),
            ):
                cursor.execute(f"DELETE FROM {table} t {OF_RUN_ENTITIES}")
                counts[name] = cursor.rowcount
            for name, table in (
                ("incident_systems", "incidents_incidentsystem"),
                ("incident_updates", "incidents_incidentupdate"),
                ("incident_links", "incidents_incidentlink"),
            ):
                cursor.execute(f"DELETE FROM {table} t {OF_RUN_INCIDENTS}")
                counts[name] = cursor.rowcount
            cursor.execute(
                "DELETE FROM incidents_incident t USING bench_run_incidents r WHERE t.id = r.id"
            )
            counts["incidents"] = cursor.rowcount
    return Purged(counts, events, deliveries)
