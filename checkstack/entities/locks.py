"""Entity locks and transaction-scoped advisory locks, with a bounded wait.

PostgreSQL: real row locks and ``pg_advisory_xact_lock``; the wait is bounded by
``lock_timeout`` (set for the transaction in the same statement, no extra round trip).
SQLite: every write transaction is ``BEGIN IMMEDIATE``, so writers are already serialized;
advisory locks are no-ops there and a busy database surfaces as ``LockTimeout``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.db import DatabaseError, OperationalError, connection
from django.utils import timezone

from checkstack.errors import LockTimeout

from .conf import app_settings

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


def lock_entity(kind: str, entity_id: str) -> tuple[int, dt.datetime]:
    """Lock one entity for the rest of the transaction and reserve its next ``seq``.

    Upserts the entity's sequence row: the row lock serializes every writer of the entity
    (whether its domain row exists yet or not) and the statement returns the incremented
    counter and the database clock read under the lock, all in one round trip.
    Returns ``(seq, now)``; call ``release_seq`` if the write turns out to change nothing.
    """
    from .models import EntitySequence
    from .sql import execute

    table = connection.ops.quote_name(EntitySequence._meta.db_table)
    with lock_timeout_as(f"entity:{kind}:{entity_id}"):
        if connection.vendor == "postgresql":
            ((seq, now),) = execute(
                f"INSERT INTO {table} (kind, entity_id, last_seq) "
                "SELECT %s, %s, 1 FROM (SELECT set_config('lock_timeout', %s, true)) AS cfg "
                "ON CONFLICT (kind, entity_id) "
                f"DO UPDATE SET last_seq = {table}.last_seq + 1 "
                "RETURNING last_seq, clock_timestamp()",
                [kind, entity_id, _timeout_ms()],
            )
        else:
            ((seq,),) = execute(
                f"INSERT INTO {table} (kind, entity_id, last_seq) VALUES (%s, %s, 1) "
                "ON CONFLICT (kind, entity_id) DO UPDATE SET last_seq = last_seq + 1 "
                "RETURNING last_seq",
                [kind, entity_id],
            )
            now = timezone.now()
    return int(seq), now


def release_seq(kind: str, entity_id: str) -> None:
    """Give back the ``seq`` reserved by ``lock_entity`` (the write logged nothing)."""
    from django.db.models import F

    from .models import EntitySequence

    EntitySequence.objects.filter(kind=kind, entity_id=entity_id).update(last_seq=F("last_seq") - 1)
