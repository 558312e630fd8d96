"""PostgreSQL: the active-incident index (``incidents_active_idx``, migration 0005) also holds
each incident's title and visibility (``INCLUDE (title, visibility)``), so a search page of the
default list finds its rows by an index-only walk in list order, reading no table row it does
not show (docs/performance.md, "Scaling"; the API asks for the page's keys first, see
``incidents.api.views``). The key columns and the condition are unchanged, so Django's state
of the index (migration 0005) still describes it; SQLite has no covering indexes and keeps it
as it was.
"""

from django.db import migrations

INDEX = "incidents_active_idx"
KEYS = "incidents_incident (updated_at DESC, id)"
CONDITION = "WHERE NOT (status = 'resolved')"


def cover_title(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
        schema_editor.execute(f"CREATE INDEX {INDEX} ON {KEYS} INCLUDE (title, visibility) {CONDITION}")


def uncover_title(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
        schema_editor.execute(f"CREATE INDEX {INDEX} ON {KEYS} {CONDITION}")


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0006_system_active_key"),
    ]

    operations = [migrations.RunPython(cover_title, uncover_title)]
