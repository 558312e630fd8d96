"""PostgreSQL: a trigram index for the list's ``search`` (``title__icontains``, which Django
sends as ``UPPER(title::text) LIKE UPPER('%term%')``), so a rare term no longer reads every
incident. Needs the ``pg_trgm`` extension (trusted since PostgreSQL 13: a database owner may
create it). Where it cannot be created the index is left out with a notice and the search
works as before, only slower. Nothing on SQLite.
"""

from django.db import DatabaseError, migrations, transaction

INDEX = "incidents_title_trgm_idx"


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        print(f"\n  incidents: no trigram index for the search, pg_trgm unavailable ({error})")
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON incidents_incident "
        "USING gin (UPPER(title::text) gin_trgm_ops)"
    )


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0003_system_sort_key"),
    ]

    operations = [migrations.RunPython(create, drop)]
