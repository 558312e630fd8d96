"""Entity locks and transaction-scoped advisory locks, with a bounded wait.

PostgreSQL: real row locks and ``pg_advisory_xact_lock``; the wait is bounded by
``lock_timeout`` (set for the transaction in the same statement, no extra round trip).
SQLite: every write transaction is ``BEGIN IMMEDIATE``, so writers are already serialized;
advisory locks are no-ops there and a busy database surfaces as ``LockTimeout``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, OperationalError, connection, connections
from django.db.models import F
from django.utils import timezone

from checkstack.errors import LockTimeout

from .conf import app_settings
from .models import EntitySequence
from .sql import execute, quoted_table

LOCK_NOT_AVAILABLE = "55P03"


def _timeout_ms() -> str:
    return str(max(1, int(app_settings.LOCK_TIMEOUT * 1000)))


def is_lock_timeout(exc: BaseException) -> bool:
    """True for PostgreSQL's lock_timeout error and SQLite's "database is locked"."""
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) == LOCK_NOT_AVAILABLE:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


@contextlib.contextmanager
def lock_timeout_as(key: str) -> Iterator[None]:
    """Turn a lock wait that timed out inside the block into ``LockTimeout``."""
    try:
        yield
    except DatabaseError as exc:
        if is_lock_timeout(exc):
            raise LockTimeout(key, app_settings.LOCK_TIMEOUT) from exc
        raise


def acquire_advisory_lock(key: str) -> None:
    """Take ``pg_advisory_xact_lock`` on ``key`` (no-op on SQLite). Only inside ``atomic()``."""
    if not connection.in_atomic_block:
        raise RuntimeError("advisory_lock() is only valid inside transaction.atomic()")
    if connection.vendor != "postgresql":
        return
    with lock_timeout_as(key), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true), "
            "pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [_timeout_ms(), key],
        )


def advisory_lock(key: str) -> contextlib.AbstractContextManager[None]:
    """Take a transaction-scoped advisory lock on a string key, now.

    Valid only inside ``atomic()``; held until that transaction ends. Works as a plain call or
    as ``with advisory_lock("incident.dedupe-open-for-system:db-1"):`` (the lock is taken when
    it is called, so the ``with`` block adds nothing but readability). A wait longer than the
    lock timeout raises ``LockTimeout``.
    """
    if not isinstance(key, str) or not key:
        raise ValueError("advisory_lock() needs a non-empty string key")
    acquire_advisory_lock(key)
    return contextlib.nullcontext()


@functools.lru_cache(maxsize=4)
def _lock_sql(vendor: str, table: str) -> str:
    """The entity lock: upsert the entity's sequence row, returning the next ``seq`` (and on
    PostgreSQL the database clock, read under the lock, with the lock timeout set first).

    On PostgreSQL the ``seq`` is only read here (``last_seq + 1``): the statement that logs the
    change stores it (``outbox``), so a write that logs nothing gives nothing back. On SQLite
    it is taken here and given back by ``release_seq``.
    """
    if vendor == "postgresql":
        return (
            f"INSERT INTO {table} (kind, entity_id, last_seq, locks) "
            "SELECT %s, %s, 0, 1 FROM (SELECT set_config('lock_timeout', %s, true)) AS cfg "
            f"ON CONFLICT (kind, entity_id) DO UPDATE SET locks = {table}.locks + 1 "
            "RETURNING last_seq + 1 AS last_seq, clock_timestamp() AS locked_at, locks"
        )
    return (
        f"INSERT INTO {table} (kind, entity_id, last_seq, locks) VALUES (%s, %s, 1, 1) "
        "ON CONFLICT (kind, entity_id) DO UPDATE SET last_seq = last_seq + 1, locks = locks + 1 "
        "RETURNING last_seq"
    )


def takes_seq_at_lock(vendor: str) -> bool:
    """Whether the lock takes the ``seq`` (SQLite) or the change's own statement does
    (PostgreSQL: ``UPDATE ... SET last_seq`` among its data-modifying CTEs)."""
    return vendor != "postgresql"


@functools.lru_cache(maxsize=1)
def _sequence_table() -> str:
    return quoted_table(EntitySequence._meta.db_table)


def lock_entity(kind: str, entity_id: str) -> tuple[int, dt.datetime]:
    """Lock one entity for the rest of the transaction and reserve its next ``seq``.

    Upserts the entity's sequence row: the row lock serializes every writer of the entity
    (whether its domain row exists yet or not) and the statement returns the incremented
    counter and the database clock read under the lock, all in one round trip.
    Returns ``(seq, now)``; call ``release_seq`` if the write turns out to change nothing.
    Until the change is logged, the row's ``last_seq`` is the previous change's on PostgreSQL
    (see ``_lock_sql``).
    """
    db = connections[DEFAULT_DB_ALIAS]
    vendor = db.vendor
    sql = _lock_sql(vendor, _sequence_table())
    with lock_timeout_as(f"entity:{kind}:{entity_id}"):
        if vendor == "postgresql":
            ((seq, now, _locks),) = execute(sql, [kind, entity_id, _timeout_ms()], db=db)
        else:
            ((seq,),) = execute(sql, [kind, entity_id], db=db)
            now = timezone.now()
    return int(seq), now


@functools.lru_cache(maxsize=16)
def _lock_and_read_sql(table: str, read_sql: str) -> str:
    """One statement: the entity lock, and the entity's rows as the statement's snapshot saw
    them, with how many locks were taken between that snapshot and this one."""
    lock = _lock_sql("postgresql", table)
    return (
        f"WITH lk AS ({lock}) "
        "SELECT lk.last_seq, lk.locked_at, lk.locks - COALESCE("
        f"(SELECT s.locks FROM {table} s WHERE s.kind = %s AND s.entity_id = %s), 0), r.* "
        f"FROM lk LEFT JOIN ({read_sql}) AS r ON TRUE"
    )


def lock_and_read(kind: str, entity_id: str, reader: Any) -> tuple[int, dt.datetime, Any, bool]:
    """PostgreSQL: ``lock_entity`` and the entity's ``reader`` (a ``LinkedRowsRead``) in one
    statement. Returns ``(seq, now, state or None, current)``.

    The read uses the statement's snapshot, taken before a wait for the lock. If another writer
    of the entity committed between that snapshot and the lock (the entity's lock count moved
    by more than this statement's own lock) the state may be stale: ``current`` is False and the
    caller reads again, now under the lock.
    """
    sql = _lock_and_read_sql(_sequence_table(), reader.sql("postgresql", 1))
    with lock_timeout_as(f"entity:{kind}:{entity_id}"):
        ((seq, now, gap, *row),) = execute(
            sql, [kind, entity_id, _timeout_ms(), kind, entity_id, entity_id]
        )
    if gap != 1:
        return int(seq), now, None, False
    return int(seq), now, (reader.state(row) if row[0] is not None else None), True


def release_seq(kind: str, entity_id: str) -> None:
    """Give back the ``seq`` reserved by ``lock_entity`` (the write logged nothing); nothing to
    give back on PostgreSQL, where only a logged change takes its ``seq``."""
    if not takes_seq_at_lock(connections[DEFAULT_DB_ALIAS].vendor):
        return
    EntitySequence.objects.filter(kind=kind, entity_id=entity_id).update(last_seq=F("last_seq") - 1)
