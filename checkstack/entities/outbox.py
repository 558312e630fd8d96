"""Writing a change and its outbox rows, and what happens after COMMIT.

The change row, its field transitions, the derived trigger events and one delivery row per
durable subscriber are inserted in the write's transaction: they commit or roll back with the
domain rows. On PostgreSQL all of them go in one statement (data-modifying CTEs), with the
entity's ``last_seq`` (the lock only read it, see ``locks``), so logging a change costs one
round trip whatever it carries.

The django-q2 tasks that work on those rows (one per delivery and per trigger event):
- with the ORM broker on the write's own database, the write inserts them too: on PostgreSQL
  in the same statement, with the pusher's ``NOTIFY`` (see ``broker``), at no round trip of
  their own; on SQLite with one more statement. They become visible (and the pusher is woken)
  at the write's COMMIT, and roll back with it. A delivery's task names it by change and group
  (``deliver_change``), its id being unknown until the rows are inserted;
- otherwise (Redis, django-q2's sync mode) they are enqueued after COMMIT, with one RPUSH. A
  broker failure then is logged, never raised into the write: the rows stay pending and the
  sweepers re-enqueue them.
Then, after COMMIT, the in-process subscribers and the ``entity_changed`` signal run in the
committing process; their errors are logged, never raised into the write.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import pickle
import time
import uuid
from typing import Any, NamedTuple

from django.core.signing import b62_encode
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signals import pre_enqueue
from django_q.signing import SignedPackage

from . import broker, registry
from .conf import app_settings
from .models import Change, Delivery, EntitySequence, Transition, TriggerEvent
from .signals import entity_changed
from .sql import execute, quoted_table
from .types import EntityChange, JSONDict

logger = logging.getLogger("checkstack.entities")

DerivedEvent = tuple[str, JSONDict, str | None]

DELIVER_TASK = "checkstack.entities.tasks.deliver"
DELIVER_CHANGE_TASK = "checkstack.entities.tasks.deliver_change"
DISPATCH_TASK = "checkstack.entities.tasks.dispatch_trigger_event"


TASK_NAME_LENGTH = 100  # django_q.models.Task.name

_encode = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per value


def _json(value: Any) -> str | None:
    return None if value is None else _encode(value)


def _table(model: Any) -> str:
    return quoted_table(model._meta.db_table)


class _Rows(NamedTuple):
    """What one change adds to the outbox, as the insert statements take it."""

    change: EntityChange
    transitions: list[JSONDict]
    events: list[JSONDict]
    event_ids: list[uuid.UUID]
    queues: list[JSONDict]  # the kind's work queues: one delivery each


def _rows(change: EntityChange, events: list[DerivedEvent]) -> _Rows:
    transitions = (
        [
            {"field": f, "from_value": (change.prev or {}).get(f), "to_value": change.next.get(f)}
            for f in change.changed_fields
        ]
        if change.next is not None
        else []
    )
    event_ids = [uuid.uuid4() for _ in events]
    event_rows = [
        {"id": str(event_id), "event": trigger_id, "payload": payload, "context_key": key}
        for event_id, (trigger_id, payload, key) in zip(event_ids, events, strict=True)
    ]
    queues = [
        {"grp": q.group, "max_attempts": q.max_attempts}
        for q in registry.work_queues_for(change.kind)
    ]
    return _Rows(change, transitions, event_rows, event_ids, queues)


def write_outbox(changes: list[tuple[EntityChange, list[DerivedEvent]]]) -> None:
    """Insert each change (in order) with its transitions, trigger events and deliveries; on
    PostgreSQL all of them in one statement. Their tasks and after-COMMIT work follow."""
    if not changes:
        return
    batch = [_rows(change, events) for change, events in changes]
    db = connections[DEFAULT_DB_ALIAS]
    tasks = _tasks_in_transaction(batch)
    if db.vendor == "postgresql":
        delivery_ids = _insert_postgresql(db, batch, tasks)
    else:
        delivery_ids = [_insert_portable(db, *rows) for rows in batch]
        if tasks is not None:
            _store_orm_tasks(DEFAULT_DB_ALIAS, tasks.key, tasks.packages)
    for rows, ids in zip(batch, delivery_ids, strict=True):
        change, event_ids = rows.change, rows.event_ids
        if tasks is not None:
            ids, event_ids = [], []  # their tasks commit with the write
        transaction.on_commit(functools.partial(after_commit, change, ids, event_ids), robust=True)


class _OrmTasks(NamedTuple):
    """The ``OrmQ`` rows a write inserts with its own rows."""

    key: str  # the queue (django-q2's cluster name)
    packages: list[str]
    channel: str | None  # to ``NOTIFY``, if the broker listens


def _tasks_in_transaction(batch: list[_Rows]) -> _OrmTasks | None:
    """The tasks to insert with the write's rows (see the module's docstring), or None to
    enqueue them after COMMIT: another broker, sync mode, enqueueing off, or a package that
    could not be built (a ``pre_enqueue`` receiver failing: the after-COMMIT path logs it)."""
    if not (app_settings.ENQUEUE and in_transaction_enqueue()):
        return None
    jobs: list[tuple[str, int | str]] = []
    for rows in batch:
        jobs += [(DELIVER_CHANGE_TASK, f"{rows.change.change_id}:{q['grp']}") for q in rows.queues]
        jobs += [(DISPATCH_TASK, str(e)) for e in rows.event_ids]
    if not jobs:
        return None
    try:
        packages = [pack_task(func, arg) for func, arg in jobs]
    except Exception:
        return None
    return _OrmTasks(Conf.CLUSTER_NAME, packages, broker.orm_notify_channel(Conf.CLUSTER_NAME))


def in_transaction_enqueue() -> bool:
    """Whether writes insert their tasks in their own transaction: django-q2 (not in sync
    mode) stores tasks in ``OrmQ`` on the database the entity rows are written to."""
    return not Conf.SYNC and Conf.ORM == DEFAULT_DB_ALIAS and broker.is_orm_broker()


def _change_ctes(n: int) -> str:
    """The data-modifying CTEs of the ``n``-th change of a statement (its parameters: those
    ``_change_params`` lists); its deliveries' ids are ``d{n}``'s rows."""
    return f"""
        c{n} AS (
            INSERT INTO {_table(Change)} (change_id, kind, entity_id, seq, prev, next, delta,
                changed_fields, actor, run_id, occurred_at, request_id)
            VALUES (%s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb, %s::jsonb, %s::jsonb, %s,
                %s, %s)
        ), t{n} AS (
            INSERT INTO {_table(Transition)} (change_id, kind, entity_id, field, from_value,
                to_value, occurred_at)
            SELECT %s, %s, %s, x.field, x.from_value, x.to_value, %s
            FROM jsonb_to_recordset(%s::jsonb) AS x(field text, from_value jsonb, to_value jsonb)
        ), s{n} AS (
            UPDATE {_table(EntitySequence)} SET last_seq = %s WHERE kind = %s AND entity_id = %s
        ), e{n} AS (
            INSERT INTO {_table(TriggerEvent)} (id, event, payload, context_key, change_id, actor,
                created_at, dispatched_at)
            SELECT x.id, x.event, x.payload, x.context_key, %s, %s::jsonb, %s, NULL
            FROM jsonb_to_recordset(%s::jsonb) AS x(id uuid, event text, payload jsonb,
                context_key text)
        ), d{n} AS (
            INSERT INTO {_table(Delivery)} (change_id, "group", kind, entity_id, seq, status,
                attempts, max_attempts, last_error, created_at, next_attempt_at, finished_at)
            SELECT %s, x.grp, %s, %s, %s, 'pending', 0, x.max_attempts, '', %s, %s, NULL
            FROM jsonb_to_recordset(%s::jsonb) AS x(grp text, max_attempts int)
            RETURNING id
        )"""


def _change_params(rows: _Rows) -> list[Any]:
    change, at = rows.change, rows.change.occurred_at
    cid, kind, eid, actor = change.change_id, change.kind, change.entity_id, _json(change.actor)
    return [
        cid, kind, eid, change.seq, _json(change.prev), _json(change.next), _json(change.delta),
        _json(change.changed_fields), actor, change.run_id, at, change.request_id,
        cid, kind, eid, at, _json(rows.transitions),
        change.seq, kind, eid,
        cid, actor, at, _json(rows.events),
        cid, kind, eid, change.seq, at, at, _json(rows.queues),
    ]  # fmt: skip


@functools.lru_cache(maxsize=32)
def _postgresql_sql(changes: int, tasks: bool, notify: bool) -> str:
    ctes = [_change_ctes(n) for n in range(changes)]
    if tasks:
        ctes.append(f"""
            q AS (
                INSERT INTO {_table(OrmQ)} ("key", payload, "lock")
                SELECT %s, x.payload, %s FROM unnest(%s::text[]) AS x(payload)
            )""")
    selects = [f"SELECT {n}, id FROM d{n}" for n in range(changes)]
    if notify:  # delivered at COMMIT
        selects.append("SELECT -1, NULL FROM (SELECT pg_notify(%s, '')) AS n")
    return f"WITH {', '.join(ctes)} {' UNION ALL '.join(selects)}"


def _insert_postgresql(db: Any, batch: list[_Rows], tasks: _OrmTasks | None) -> list[list[int]]:
    """One statement for the whole batch (and its tasks); each change's delivery ids."""
    params: list[Any] = []
    for rows in batch:
        params += _change_params(rows)
    notify = tasks is not None and tasks.channel is not None
    if tasks is not None:
        params += [tasks.key, timezone.now(), tasks.packages]
        if tasks.channel is not None:
            params.append(tasks.channel)
    delivery_ids: list[list[int]] = [[] for _ in batch]
    sql = _postgresql_sql(len(batch), tasks is not None, notify)
    for n, delivery_id in execute(sql, params, db=db):
        if n >= 0:
            delivery_ids[n].append(delivery_id)
    return delivery_ids


def _insert_portable(
    db: Any,
    change: EntityChange,
    transitions: list[JSONDict],
    events: list[JSONDict],
    event_ids: list[uuid.UUID],
    queues: list[JSONDict],
) -> list[int]:
    """One statement per table through the raw cursor (SQLite: no network round trips)."""
    native_uuid = db.features.has_native_uuid_field
    cid = change.change_id if native_uuid else change.change_id.hex
    at = db.ops.adapt_datetimefield_value(change.occurred_at)
    kind, eid, actor = change.kind, change.entity_id, _json(change.actor)
    execute(
        f"INSERT INTO {_table(Change)} (change_id, kind, entity_id, seq, prev, next, delta, "
        "changed_fields, actor, run_id, occurred_at, request_id) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [cid, kind, eid, change.seq, _json(change.prev), _json(change.next),
         _json(change.delta), _json(change.changed_fields), actor, change.run_id, at,
         change.request_id],
        db=db,
    )  # fmt: skip
    if transitions:
        execute(
            f"INSERT INTO {_table(Transition)} (change_id, kind, entity_id, field, "
            "from_value, to_value, occurred_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (cid, kind, eid, t["field"], _json(t["from_value"]), _json(t["to_value"]), at)
                for t in transitions
            ],
            many=True,
            db=db,
        )
    if events:
        execute(
            f"INSERT INTO {_table(TriggerEvent)} (id, event, payload, context_key, change_id, "
            "actor, created_at, dispatched_at) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL)",
            [
                (event_id if native_uuid else event_id.hex, e["event"], _json(e["payload"]),
                 e["context_key"], cid, actor, at)
                for event_id, e in zip(event_ids, events, strict=True)
            ],
            many=True,
            db=db,
        )  # fmt: skip
    delivery_ids = []
    for queue in queues:
        ((delivery_id,),) = execute(
            f'INSERT INTO {_table(Delivery)} (change_id, "group", kind, entity_id, seq, '
            "status, attempts, max_attempts, last_error, created_at, next_attempt_at, "
            "finished_at) VALUES (%s, %s, %s, %s, %s, 'pending', 0, %s, '', %s, %s, NULL) "
            "RETURNING id",
            [cid, queue["grp"], kind, eid, change.seq, queue["max_attempts"], at, at],
            db=db,
        )
        delivery_ids.append(delivery_id)
    return delivery_ids


# -- after COMMIT ---------------------------------------------------------------------------


class _UnusedBroker:
    """Passed to ``async_task`` in sync mode, where it runs the task instead of enqueueing it
    (so that no broker, or database connection, is set up for nothing)."""

    list_key = "unused"

    def enqueue(self, package: str) -> None:
        raise RuntimeError("a task was enqueued in sync mode")


_UNUSED_BROKER = _UnusedBroker()


def enqueue(delivery_ids: list[int], event_ids: list[uuid.UUID]) -> None:
    """One django-q2 task per delivery and per trigger event (see ``enqueue_tasks``)."""
    if not app_settings.ENQUEUE:
        return
    jobs: list[tuple[str, int | str]] = [(DELIVER_TASK, d) for d in delivery_ids]
    jobs += [(DISPATCH_TASK, str(e)) for e in event_ids]
    enqueue_tasks(jobs)


def enqueue_tasks(jobs: list[tuple[str, int | str]]) -> None:
    """Enqueue one django-q2 task per (dotted function path, argument).

    Tasks are packed as django-q2's ``async_task`` packs them (same fields, the cluster's
    ``cached``/``ack_failures`` options, the ``pre_enqueue`` signal, ``SignedPackage``), without
    its per-call overhead (a humanized id that the task name replaces, option parsing, log
    formatting); with the ORM broker they are stored with one INSERT, with Redis pushed with one
    RPUSH over a connection the process keeps. Sync mode goes through
    ``async_task`` itself. A broker failure is logged and swallowed: the rows the tasks work on
    stay pending and the sweepers re-enqueue them.
    """
    if not jobs:
        return

    try:
        if Conf.SYNC:
            from django_q.tasks import async_task

            for func, arg in jobs:  # runs each task now, in this process
                async_task(func, arg, broker=_UNUSED_BROKER, task_name=task_name(func, arg))
            return
        packages = [pack_task(func, arg) for func, arg in jobs]
        if broker.is_orm_broker():
            _store_orm_tasks(Conf.ORM, Conf.CLUSTER_NAME, packages)
        elif (redis_broker := _redis_broker()) is not None:
            # One RPUSH for all of them, in order: what the broker's enqueue does one by one.
            redis_broker.connection.rpush(redis_broker.list_key, *packages)
        else:
            other = get_broker()
            for package in packages:
                other.enqueue(package)
    except Exception:
        logger.exception("Could not enqueue %s task(s); the sweeper will pick them up", len(jobs))


_redis_brokers: dict[tuple[str, str], Any] = {}


def _redis_broker() -> Any | None:
    """django-q2's Redis broker of this process, or None when another broker is configured.

    ``get_broker()`` makes a new connection pool on every call, so enqueueing through it opened
    a TCP connection to Redis per commit (0.7 ms on loopback, a TLS handshake with rediss://);
    this one is made once per configuration and reused. redis-py's pool starts afresh in a
    forked child, so a forking server or worker never shares the parent's socket.
    """
    if Conf.BROKER_CLASS or Conf.IRON_MQ or isinstance(Conf.SQS, dict) or Conf.ORM or Conf.MONGO:
        return None
    key = (Conf.CLUSTER_NAME, repr((Conf.REDIS, Conf.DJANGO_REDIS)))
    broker = _redis_brokers.get(key)
    if broker is None:
        broker = _redis_brokers[key] = get_broker()
    return broker


def task_name(func: str, arg: int | str) -> str:
    """The task's name: function and argument, cut to what django-q2's ``Task.name`` holds."""
    return f"{func.rsplit('.', 1)[1]}:{arg}"[:TASK_NAME_LENGTH]


def pack_task(func: str, arg: int | str) -> str:
    """The signed package ``async_task(func, arg, task_name=...)`` would enqueue."""

    task: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "name": task_name(func, arg),
        "func": func,
        "args": (arg,),
    }
    if Conf.CACHED:
        task["cached"] = Conf.CACHED
    if Conf.ACK_FAILURES:
        task["ack_failure"] = Conf.ACK_FAILURES
    task["kwargs"] = {}
    task["started"] = timezone.now()
    if pre_enqueue.has_listeners():
        pre_enqueue.send(sender="django_q", task=task)
    if Conf.COMPRESSED:
        return SignedPackage.dumps(task, compressed=True)  # type: ignore[no-any-return]
    return sign_package(task, Conf.SECRET_KEY, Conf.PREFIX)


def sign_package(task: dict[str, Any], secret: str | bytes, salt: str) -> str:
    """``SignedPackage.dumps(task)`` of an uncompressed package, character for character.

    django-q2 signs with Django's ``TimestampSigner`` (salt: the cluster name, SHA-256): the
    pickled task in URL-safe base64, ``:``, the time in base 62, ``:``, the HMAC of both. Within
    an entity write, building a signer and deriving its key for every task cost a tenth of the
    write on SQLite; here the key is derived once. A test compares the result with
    ``SignedPackage.dumps``, so a change of either format is caught.
    """
    data = pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
    value = f"{_b64(data)}:{b62_encode(int(time.time()))}"
    mac = _package_mac(secret, salt).copy()
    mac.update(value.encode())
    return f"{value}:{_b64(mac.digest())}"


@functools.lru_cache(maxsize=4)
def _package_mac(secret: str | bytes, salt: str) -> hmac.HMAC:
    """Django's ``salted_hmac(salt + "signer", ..., secret, algorithm="sha256")``, keyed."""
    key = hashlib.sha256(force_bytes(salt + "signer") + force_bytes(secret)).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _store_orm_tasks(alias: str, key: str, packages: list[str]) -> None:

    db = connections[alias]
    now = db.ops.adapt_datetimefield_value(timezone.now())
    table = db.ops.quote_name(OrmQ._meta.db_table)
    rows = ", ".join(["(%s, %s, %s)"] * len(packages))
    params: list[Any] = []
    for package in packages:
        params += [key, package, now]
    insert = f'INSERT INTO {table} ("key", payload, "lock") VALUES {rows}'
    channel = broker.orm_notify_channel(key)
    if channel is None:
        execute(insert, params, db=db)
        return
    # The wake-up in the same statement: PostgreSQL delivers it at the insert's COMMIT, so a
    # listening pusher dequeues at once, at no extra round trip.
    execute(f"WITH q AS ({insert}) SELECT pg_notify(%s, '')", [*params, channel], db=db)


def after_commit(change: EntityChange, delivery_ids: list[int], event_ids: list[uuid.UUID]) -> None:
    """Runs once the outermost transaction committed."""
    enqueue(delivery_ids, event_ids)
    for receiver, result in entity_changed.send_robust(sender=change.kind, change=change):
        if isinstance(result, Exception):
            logger.error(
                "entity_changed receiver %r failed for %s:%s #%s",
                receiver,
                change.kind,
                change.entity_id,
                change.seq,
                exc_info=result,
            )
    for handler in registry.broadcast_handlers_for(change.kind):
        try:
            handler(change)
        except Exception:
            logger.exception(
                "Broadcast subscriber %r failed for %s:%s #%s",
                handler,
                change.kind,
                change.entity_id,
                change.seq,
            )
