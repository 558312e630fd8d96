"""Fast batched reads for entity ``read`` accessors.

A ``read`` runs twice in every entity write (prev and next) under the lock, so it is the
write's hottest path: one hand-written query for a row and its linked ids, instead of two ORM
queries, halves its round trips and skips the ORM's query compilation.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

_FORMAT_PLACEHOLDER = re.compile(r"(?<!%)%s")


@functools.lru_cache(maxsize=256)
def _qmark(sql: str) -> str:
    """``%s`` placeholders as the sqlite3 module's ``?`` (what Django's SQLite cursor does)."""
    return _FORMAT_PLACEHOLDER.sub("?", sql).replace("%%", "%")


def execute(
    sql: str, params: Sequence[Any] = (), *, many: bool = False, using: str = DEFAULT_DB_ALIAS
) -> list[tuple[Any, ...]]:
    """Run one of the entity core's own statements (``%s`` placeholders); its rows, if any.

    The entity write runs five to ten of these per change, so they skip Django's cursor
    wrapper (about 30 µs a statement on this project's machines: placeholder conversion,
    the broken-transaction check, thread-sharing and debug checks) and go to the driver's
    cursor, with Django's error wrapping kept (``django.db`` exceptions, driver error as
    ``__cause__``). While statements are being observed (``CaptureQueriesContext``,
    ``django_assert_num_queries``, ``DEBUG``, an ``execute_wrapper``) they go through Django's
    cursor as usual, so they are counted, logged and wrapped like any other.
    """
    db = connections[using]
    if db.queries_logged or db.execute_wrappers:
        with _observed_cursor(db) as cursor:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    db.ensure_connection()
    if db.vendor == "sqlite":
        sql = _qmark(sql)
    with db.wrap_database_errors:
        cursor = _driver_cursor(db)
        try:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()


def _driver_cursor(db: Any) -> Any:
    """The driver's cursor; on PostgreSQL one with server-side binding, which psycopg turns
    into a prepared statement after ``prepare_threshold`` executions (when the connection
    allows them: see ``OPTIONS["prepare_threshold"]``)."""
    if db.vendor == "postgresql":
        try:
            import psycopg
        except ImportError:  # psycopg2: client-side binding only
            return db.connection.cursor()
        if isinstance(db.connection, psycopg.Connection):
            return psycopg.Cursor(db.connection)
    return db.connection.cursor()


def _observed_cursor(db: Any) -> Any:
    """Django's cursor. Under execute wrappers alone (a tracer, the benchmark's clock) it wraps
    the same driver cursor as the unobserved path, so statements run as they do unobserved
    (prepared on PostgreSQL); while queries are logged it is Django's usual cursor, whose
    client-side binding gives the log readable SQL."""
    if db.vendor != "postgresql" or db.queries_logged:
        return db.cursor()
    db.ensure_connection()
    with db.wrap_database_errors:
        cursor = _driver_cursor(db)
    return db.make_cursor(cursor)


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    column = getattr(field, "column", None)
    if not isinstance(column, str):
        raise ValueError(f"{model.__name__}.{name} is not a concrete column")
    return column


@functools.lru_cache(maxsize=64)
def _read_sql(
    model: type[models.Model],
    fields: tuple[str, ...],
    link_model: type[models.Model],
    link_fk: str,
    link_value: str,
    vendor: str,
    count: int,
) -> str:
    qn = connection.ops.quote_name
    meta, link_meta = model._meta, link_model._meta
    pk = qn(_column(model, meta.pk.name))  # type: ignore[union-attr]
    columns = ", ".join(f"p.{qn(_column(model, f))}" for f in fields)
    fk = qn(_column(link_model, link_fk))
    value = qn(_column(link_model, link_value))
    links = (
        f"SELECT l.{value} FROM {qn(link_meta.db_table)} l WHERE l.{fk} = p.{pk} ORDER BY l.{value}"
    )
    if vendor == "postgresql":
        linked = f"ARRAY({links})"
        where = f"p.{pk} = ANY(%s)"
    else:
        linked = (
            f"(SELECT json_group_array({value}) FROM ({links.replace('l.' + value, value, 1)}))"
        )
        where = f"p.{pk} IN ({', '.join(['%s'] * count)})"
    return f"SELECT p.{pk}, {columns}, {linked} FROM {qn(meta.db_table)} p WHERE {where}"


def read_rows_with_linked_ids(
    model: type[models.Model],
    fields: Sequence[str],
    link_model: type[models.Model],
    link_fk: str,
    link_value: str,
    ids: Iterable[str],
) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """``{pk: ({field: value}, sorted linked values)}`` for the existing rows among ``ids``.

    ``link_model.link_fk`` points at ``model``; ``link_value`` is the linked id column. Only
    plain (text, number, boolean) fields are supported in ``fields``.
    """
    wanted = list(dict.fromkeys(str(i) for i in ids))
    if not wanted:
        return {}
    vendor = connection.vendor
    sql = _read_sql(model, tuple(fields), link_model, link_fk, link_value, vendor, len(wanted))
    params: list[Any] = [wanted] if vendor == "postgresql" else wanted
    rows = execute(sql, params)
    result = {}
    for row in rows:
        linked_values = row[-1]
        if isinstance(linked_values, str):
            linked_values = json.loads(linked_values)
        result[str(row[0])] = (dict(zip(fields, row[1:-1], strict=True)), list(linked_values))
    return result
