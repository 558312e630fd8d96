"""IncidentSystem.incident_updated_at: a copy of the incident's updated_at kept by triggers, so
the list filtered by a system reads ``incidents_system_sort_idx`` (system, newest first)
instead of walking all incidents. Triggers (PostgreSQL and SQLite):

- a link row gets its incident's ``updated_at`` when it is inserted or re-pointed;
- an incident's new or changed ``updated_at`` is copied to its link rows.

The application never writes the column, and every write path (services, bulk updates, the
admin, raw SQL) keeps it right, as with an index.
"""

from django.db import migrations, models

POSTGRESQL_FORWARD = [
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
    CREATE TRIGGER incidents_system_sort_key_fill
    BEFORE INSERT OR UPDATE ON incidents_incidentsystem
    FOR EACH ROW EXECUTE FUNCTION incidents_system_sort_key_fill()
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
    """
    CREATE TRIGGER incidents_system_sort_key_sync
    AFTER INSERT OR UPDATE OF updated_at ON incidents_incident
    FOR EACH ROW EXECUTE FUNCTION incidents_system_sort_key_sync()
    """,
]
POSTGRESQL_BACKWARD = [
    "DROP TRIGGER IF EXISTS incidents_system_sort_key_sync ON incidents_incident",
    "DROP FUNCTION IF EXISTS incidents_system_sort_key_sync()",
    "DROP TRIGGER IF EXISTS incidents_system_sort_key_fill ON incidents_incidentsystem",
    "DROP FUNCTION IF EXISTS incidents_system_sort_key_fill()",
]
SQLITE_FORWARD = [
    """
    CREATE TRIGGER incidents_system_sort_key_fill_insert
    AFTER INSERT ON incidents_incidentsystem FOR EACH ROW BEGIN
        UPDATE incidents_incidentsystem SET incident_updated_at =
            (SELECT updated_at FROM incidents_incident WHERE id = NEW.incident_id)
        WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER incidents_system_sort_key_fill_update
    AFTER UPDATE OF incident_id, incident_updated_at ON incidents_incidentsystem
    FOR EACH ROW BEGIN
        UPDATE incidents_incidentsystem SET incident_updated_at =
            (SELECT updated_at FROM incidents_incident WHERE id = NEW.incident_id)
        WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER incidents_system_sort_key_sync_insert
    AFTER INSERT ON incidents_incident FOR EACH ROW BEGIN
        UPDATE incidents_incidentsystem SET incident_updated_at = NEW.updated_at
        WHERE incident_id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER incidents_system_sort_key_sync_update
    AFTER UPDATE OF updated_at ON incidents_incident FOR EACH ROW BEGIN
        UPDATE incidents_incidentsystem SET incident_updated_at = NEW.updated_at
        WHERE incident_id = NEW.id;
    END
    """,
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS incidents_system_sort_key_{name}"
    for name in ("fill_insert", "fill_update", "sync_insert", "sync_update")
]
BACKFILL = """
    UPDATE incidents_incidentsystem SET incident_updated_at =
        (SELECT updated_at FROM incidents_incident WHERE id = incidents_incidentsystem.incident_id)
"""


def _run(statements_by_vendor: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        vendor = schema_editor.connection.vendor
        if vendor not in statements_by_vendor:
            raise NotImplementedError(f"incidents supports PostgreSQL and SQLite, not {vendor}")
        for statement in statements_by_vendor[vendor]:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0002_incident_visibility"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="incidentsystem",
            name="incidents_system_id_idx",
        ),
        migrations.AddField(
            model_name="incidentsystem",
            name="incident_updated_at",
            field=models.DateTimeField(editable=False, null=True),
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
                fields=["system_id", "-incident_updated_at", "incident"],
                name="incidents_system_sort_idx",
            ),
        ),
    ]
