"""Fast batched reads for entity ``read`` accessors.

A ``read`` runs twice in every entity write (prev and next) under the lock, so it is the
write's hottest path: one hand-written query for a row and its linked ids, instead of two ORM
queries, halves its round trips and skips the ORM's query compilation.
"""

from __future__ import annotations

import contextvars
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
    sql: str,
    params: Sequence[Any] = (),
    *,
    many: bool = False,
    using: str = DEFAULT_DB_ALIAS,
    db: Any = None,
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
    if db is None:  # callers that run several statements pass the connection they looked up
        db = connections[using]
    if db.queries_logged or db.execute_wrappers:
        with _observed_cursor(db) as cursor:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    if db.connection is None:
        db.ensure_connection()
    if db.vendor == "sqlite":
        sql = _qmark(sql)
    with db.wrap_database_errors:
        cursor = _reusable_cursor(db)
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


_CURSOR_ATTR = "_checkstack_driver_cursor"


def _reusable_cursor(db: Any) -> Any:
    """The driver cursor the unobserved path reuses on this connection (created once per
    driver connection: a new connection after a reconnect gets a new cursor)."""
    cached = db.__dict__.get(_CURSOR_ATTR)
    if cached is not None and cached[0] is db.connection:
        return cached[1]
    cursor = _driver_cursor(db)
    db.__dict__[_CURSOR_ATTR] = (db.connection, cursor)
    return cursor


def _driver_cursor(db: Any) -> Any:
    """The driver's cursor; on PostgreSQL one with server-side binding, which psycopg turns
    into a prepared statement after ``prepare_threshold`` executions (when the connection
    allows them: see ``OPTIONS["prepare_threshold"]``); on SQLite the sqlite3 module's own
    cursor (the SQL is already in ``?`` style, Django's cursor class would convert it again)."""
    if db.vendor == "postgresql":
        try:
            import psycopg
        except ImportError:  # psycopg2: client-side binding only
            return db.connection.cursor()
        if isinstance(db.connection, psycopg.Connection):
            return psycopg.Cursor(db.connection)
    if db.vendor == "sqlite":
        import sqlite3

        return sqlite3.Cursor(db.connection)
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


@functools.lru_cache(maxsize=64)
def quoted_table(name: str) -> str:
    """``name`` quoted for the default database (looked up once per table: the entity write
    builds its own statements on every change)."""
    return connections[DEFAULT_DB_ALIAS].ops.quote_name(name)  # type: ignore[no-any-return]


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
    extra_fields: tuple[str, ...] = (),
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
        # One id (every entity write) as a scalar: with an array parameter PostgreSQL keeps
        # re-planning the prepared statement (custom plans), as it cannot cost a generic plan
        # for an array of unknown length as cheaply.
        where = f"p.{pk} = %s" if count == 1 else f"p.{pk} = ANY(%s)"
    else:
        linked = (
            f"(SELECT json_group_array({value}) FROM ({links.replace('l.' + value, value, 1)}))"
        )
        where = f"p.{pk} IN ({', '.join(['%s'] * count)})"
    extra = "".join(f", p.{qn(_column(model, f))}" for f in extra_fields)
    return f"SELECT p.{pk}, {columns}, {linked}{extra} FROM {qn(meta.db_table)} p WHERE {where}"


class LinkedRowsRead:
    """A ``read`` accessor for ``define_entity``: rows of ``model`` with their sorted linked ids
    (``link_model.link_value`` where ``link_model.link_fk`` points at the row), in one query.

    ``read(ids)`` gives ``{pk: {**fields, linked_as: [linked ids]}}``. Because the accessor
    knows its SQL, the entity write can fold the ``prev`` read into the statement that locks the
    entity on PostgreSQL (``checkstack.entities.locks.lock_and_read``), one round trip fewer.
    Models may be given as ``"app_label.Model"`` and are resolved on first use.

    With ``whole_rows`` the query also selects every column of the row, and a read of one id
    keeps that row as a model instance for ``take_row``: the write's own ``apply`` then gets
    the row it changes from the read that locked it (the current one, under the lock) instead
    of reading it again.
    """

    def __init__(
        self,
        model: type[models.Model] | str,
        fields: Sequence[str],
        link_model: type[models.Model] | str,
        link_fk: str,
        link_value: str,
        *,
        linked_as: str,
        whole_rows: bool = False,
    ) -> None:
        self._model, self._link_model = model, link_model
        self.fields = tuple(fields)
        self.link_fk, self.link_value, self.linked_as = link_fk, link_value, linked_as
        self.whole_rows = whole_rows
        self._kept: contextvars.ContextVar[tuple[str, Any] | None] = contextvars.ContextVar(
            f"linked_rows_read_{id(self)}", default=None
        )

    def __repr__(self) -> str:
        return f"<LinkedRowsRead {self._model!r} + {self._link_model!r}.{self.link_value}>"

    def models(self) -> tuple[type[models.Model], type[models.Model]]:
        if isinstance(self._model, str) or isinstance(self._link_model, str):
            from django.apps import apps

            if isinstance(self._model, str):
                self._model = apps.get_model(self._model)
            if isinstance(self._link_model, str):
                self._link_model = apps.get_model(self._link_model)
        return self._model, self._link_model  # type: ignore[return-value]

    def _row_fields(self) -> tuple[str, ...]:
        if not self.whole_rows:
            return ()
        model, _ = self.models()
        return tuple(f.attname for f in model._meta.concrete_fields)

    def sql(self, vendor: str, count: int) -> str:
        """The query for ``count`` ids (see ``params``)."""
        model, link_model = self.models()
        extra = self._row_fields() if count == 1 else ()
        return _read_sql(
            model, self.fields, link_model, self.link_fk, self.link_value, vendor, count, extra
        )

    @staticmethod
    def params(vendor: str, ids: list[str]) -> list[Any]:
        """The parameters of ``sql(vendor, len(ids))``: PostgreSQL takes several ids as one
        array."""
        return [ids] if vendor == "postgresql" and len(ids) > 1 else ids

    def state(self, row: Sequence[Any]) -> dict[str, Any]:
        """The state of one row of ``sql()`` (its pk, the fields, the linked values); a row of a
        one-id read of ``whole_rows`` is kept for ``take_row``."""
        count = len(self.fields)
        linked = row[1 + count]
        if isinstance(linked, str):
            linked = json.loads(linked)
        state = dict(zip(self.fields, row[1 : 1 + count], strict=True))
        state[self.linked_as] = list(linked)
        if len(row) > count + 2:
            self._kept.set((str(row[0]), row[count + 2 :]))
        return state

    def take_row(self, pk: str) -> Any:
        """The model instance of ``pk`` from this context's last one-id read, once (None when
        that read was of another row, or nothing is kept)."""
        kept = self._kept.get()
        self._kept.set(None)
        if kept is None or kept[0] != str(pk):
            return None
        model, _ = self.models()
        db = connections[DEFAULT_DB_ALIAS]
        names = self._row_fields()
        values = []
        for name, value in zip(names, kept[1], strict=True):
            col = model._meta.get_field(name).get_col(model._meta.db_table)  # type: ignore[union-attr]
            for converter in db.ops.get_db_converters(col) + col.get_db_converters(db):
                value = converter(value, col, db)
            values.append(value)
        return model.from_db(DEFAULT_DB_ALIAS, list(names), values)

    def __call__(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(str(i) for i in ids))
        if not wanted:
            return {}
        db = connections[DEFAULT_DB_ALIAS]
        vendor = db.vendor
        rows = execute(self.sql(vendor, len(wanted)), self.params(vendor, wanted), db=db)
        return {str(row[0]): self.state(row) for row in rows}
