"""PostgreSQL: a finer histogram for the search expression (``UPPER(title)``, the trigram
index's column): statistics target 1,000 instead of 100.

The planner estimates how many titles contain a term from the histogram ANALYZE keeps of that
expression; with 100 buckets a term in 1 % of the titles falls into one bucket or none, so one
ANALYZE estimates 1 % and the next 0.01 %. On the low estimate a search page was read through
the trigram index, every match and its row (10,007 matches and 8,258 table blocks for a 1 %
term at 1M incidents, 38 ms), instead of the index-only walk of the active incidents in list
order that stops after the page (migration 0007, about 3 ms). With 1,000 buckets the estimate
stays within a factor of two for such terms, while rare terms still go through the trigram
index. ANALYZE of the table samples more rows (about 1.8 s at 1M here). Without the index
(``pg_trgm`` unavailable) and on SQLite nothing changes.
"""

from django.db import migrations

INDEX = "incidents_title_trgm_idx"
TARGET = 1000


def _set(schema_editor, target: int) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [INDEX])
        if cursor.fetchone()[0] is None:
            return
    schema_editor.execute(f"ALTER INDEX {INDEX} ALTER COLUMN 1 SET STATISTICS {target}")


def finer(apps, schema_editor):  # type: ignore[no-untyped-def]
    _set(schema_editor, TARGET)


def default(apps, schema_editor):  # type: ignore[no-untyped-def]
    _set(schema_editor, -1)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0007_active_index_covers_title"),
    ]

    operations = [migrations.RunPython(finer, default)]
