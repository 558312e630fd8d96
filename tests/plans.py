"""PostgreSQL plan tests on small tables: make the planner see the test's rows alone."""

from __future__ import annotations

from django.db import connection


def fresh_tables(*tables: str) -> None:
    """Rebuild the tables' indexes and refresh their statistics and visibility maps: index
    entries of rows other tests inserted and rolled back stay in the index pages until then,
    and would make a wide index (one with ``INCLUDE`` columns) look dearer than a narrow one.
    Outside a transaction (``VACUUM``): only in tests with ``transaction=True``."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"REINDEX TABLE {connection.ops.quote_name(table)}")
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(map(connection.ops.quote_name, tables))}")
