"""IncidentSystem.incident_active: whether the incident is active (not resolved), kept by the
triggers of migration 0003 (replaced here to keep both copies), with a partial index of a
system's active incidents newest first. In a long-lived installation nearly every incident is
resolved; the default list filtered by a system then reads only that system's active ones.
"""

import importlib

from django.db import migrations, models

_sort_key = importlib.import_module("incidents.migrations.0003_system_sort_key")
_run = _sort_key._run

POSTGRESQL_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION incidents_system_sort_key_fill() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        updated timestamptz;
        active boolean;
    BEGIN
        SELECT updated_at, status <> 'resolved' INTO updated, active
        FROM incidents_incident WHERE id = NEW.incident_id;
        IF FOUND THEN
            NEW.incident_updated_at := updated;
            NEW.incident_active := active;
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION incidents_system_sort_key_sync() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE incidents_incidentsystem
        SET incident_updated_at = NEW.updated_at, incident_active = NEW.status <> 'resolved'
        WHERE incident_id = NEW.id
          AND (incident_updated_at IS DISTINCT FROM NEW.updated_at
               OR incident_active IS DISTINCT FROM (NEW.status <> 'resolved'));
        RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS incidents_system_sort_key_sync ON incidents_incident",
    """
    CREATE TRIGGER incidents_system_sort_key_sync
    AFTER INSERT OR UPDATE OF updated_at, status ON incidents_incident
    FOR EACH ROW EXECUTE FUNCTION incidents_system_sort_key_sync()
    """,
]
POSTGRESQL_BACKWARD = [
    """
    CREATE OR REPLACE FUNCTION incidents_system_sort_key_fill() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        SELECT updated_at INTO NEW.incident_updated_at
        FROM incidents_incident WHERE id = NEW.incident_id;
        RETURN NEW;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION incidents_system_sort_key_sync() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE incidents_incidentsystem SET incident_updated_at = NEW.updated_at
        WHERE incident_id = NEW.id AND incident_updated_at IS DISTINCT FROM NEW.updated_at;
        RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS incidents_system_sort_key_sync ON incidents_incident",
    """
    CREATE TRIGGER incidents_system_sort_key_sync
    AFTER INSERT OR UPDATE OF updated_at ON incidents_incident
    FOR EACH ROW EXECUTE FUNCTION incidents_system_sort_key_sync()
    """,
]
_SQLITE_FILL = """
        UPDATE incidents_incidentsystem SET
            incident_updated_at =
                (SELECT updated_at FROM incidents_incident WHERE id = NEW.incident_id),
            incident_active = COALESCE(
                (SELECT status <> 'resolved' FROM incidents_incident WHERE id = NEW.incident_id),
                incident_active)
        WHERE id = NEW.id;
"""
_SQLITE_SYNC = """
        UPDATE incidents_incidentsystem
        SET incident_updated_at = NEW.updated_at, incident_active = NEW.status <> 'resolved'
        WHERE incident_id = NEW.id;
"""
SQLITE_NAMES = ("fill_insert", "fill_update", "sync_insert", "sync_update")
# SQLite rebuilds incidents_incidentsystem to add the column, and refuses to while a trigger
# on incidents_incident names the table: the triggers go first and come back after.
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS incidents_system_sort_key_{name}" for name in SQLITE_NAMES]
SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER incidents_system_sort_key_fill_insert
    AFTER INSERT ON incidents_incidentsystem FOR EACH ROW BEGIN {_SQLITE_FILL} END
    """,
    f"""
    CREATE TRIGGER incidents_system_sort_key_fill_update
    AFTER UPDATE OF incident_id, incident_updated_at, incident_active
    ON incidents_incidentsystem FOR EACH ROW BEGIN {_SQLITE_FILL} END
    """,
    f"""
    CREATE TRIGGER incidents_system_sort_key_sync_insert
    AFTER INSERT ON incidents_incident FOR EACH ROW BEGIN {_SQLITE_SYNC} END
    """,
    f"""
    CREATE TRIGGER incidents_system_sort_key_sync_update
    AFTER UPDATE OF updated_at, status ON incidents_incident FOR EACH ROW BEGIN {_SQLITE_SYNC} END
    """,
]
SQLITE_BACKWARD = [*SQLITE_DROP, *_sort_key.SQLITE_FORWARD]
BACKFILL = """
    UPDATE incidents_incidentsystem SET incident_active = COALESCE(
        (SELECT status <> 'resolved' FROM incidents_incident
         WHERE id = incidents_incidentsystem.incident_id),
        incident_active)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0005_active_and_status_indexes"),
    ]

    operations = [
        migrations.RunPython(
            _run({"postgresql": [], "sqlite": SQLITE_DROP}),
            _run({"postgresql": [], "sqlite": SQLITE_DROP}),
        ),
        migrations.AddField(
            model_name="incidentsystem",
            name="incident_active",
            field=models.BooleanField(default=True, editable=False),
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRESQL_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
        migrations.RunPython(
            _run({"postgresql": [BACKFILL], "sqlite": [BACKFILL]}), migrations.RunPython.noop
        ),
        migrations.AddIndex(
            model_name="incidentsystem",
            index=models.Index(
                condition=models.Q(incident_active=True),
                fields=["system_id", "-incident_updated_at", "incident"],
                name="incidents_system_active_idx",
            ),
        ),
    ]
