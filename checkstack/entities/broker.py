"""django-q2's ORM broker, woken by PostgreSQL ``LISTEN``/``NOTIFY`` instead of by its next poll.

The pusher of a cluster (``NotifyingORM.dequeue``) polls ``OrmQ`` as django-q2's ORM broker
does, but when the queue is empty it waits on a ``LISTEN`` channel for up to ``poll`` seconds
instead of sleeping them; every task insert sends ``NOTIFY`` on that channel in its own
transaction (``pg_notify`` in the insert's statement, see ``outbox``), so PostgreSQL wakes the
pusher at COMMIT. Polling stays the fallback (a lost notification, a listening connection that
broke, tasks whose lock expired), and on another database the broker is django-q2's ORM broker.

The listening connection is the pusher's own psycopg connection (autocommit, opened on the
first dequeue in the process that dequeues), separate from Django's, so Django's connection
handling (``close_old_connections`` on every dequeue) never touches it; it is dropped on any
error and opened again on a later dequeue.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

from django.db import connections
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.brokers.orm import ORM
from django_q.conf import Conf

logger = logging.getLogger("checkstack.entities.broker")

BROKER_CLASS = "checkstack.entities.broker.NotifyingORM"
CHANNEL_PREFIX = "checkstack_q:"
RECONNECT_SECONDS = 5.0  # after a failed LISTEN connection, plain polling for this long


def channel(list_key: str) -> str:
    """The ``NOTIFY`` channel of a queue (a PostgreSQL identifier: at most 63 bytes)."""
    return (CHANNEL_PREFIX + list_key).encode()[:63].decode(errors="ignore")


@functools.lru_cache(maxsize=8)
def _notifying(broker_class: str) -> bool:
    try:
        return issubclass(import_string(broker_class), NotifyingORM)
    except ImportError:
        return False


def orm_notify_channel(list_key: str) -> str | None:
    """The channel to notify when inserting ``OrmQ`` rows of ``list_key``; None when the
    configured broker does not listen (django-q2's own ORM broker) or the database is not
    PostgreSQL."""
    if not (Conf.ORM and Conf.BROKER_CLASS and _notifying(Conf.BROKER_CLASS)):
        return None
    if connections[Conf.ORM].vendor != "postgresql":
        return None
    return channel(list_key)


def is_orm_broker() -> bool:
    """Whether tasks are stored in ``OrmQ``: django-q2's ORM broker or this one."""
    return bool(Conf.ORM) and (not Conf.BROKER_CLASS or _notifying(Conf.BROKER_CLASS))


class NotifyingORM(ORM):
    """django-q2's ORM broker whose empty-queue wait ends at the next ``NOTIFY``."""

    _listener: Any = None  # psycopg.Connection of this process, LISTENing
    _listener_pid = 0
    _retry_at = 0.0

    def enqueue(self, task: str) -> int:
        """django-q2's own enqueues (``async_task``, schedules): the insert, then ``NOTIFY``
        (delivered at COMMIT when inside a transaction)."""
        pk: int = super().enqueue(task)
        name = orm_notify_channel(self.list_key or Conf.CLUSTER_NAME)
        if name is not None:
            with connections[Conf.ORM].cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, '')", [name])
        return pk

    def dequeue(self) -> list[tuple[int, str]] | None:
        """django-q2's ``ORM.dequeue``; on an empty queue, wait for a notification (at most
        ``poll`` seconds) instead of sleeping."""
        listener = self._listening()  # LISTEN before looking: a task inserted now wakes us
        now = timezone.now()
        tasks = self.get_connection().filter(key=self.list_key, lock__lt=now)[0 : Conf.BULK]
        if tasks:
            task_list = []
            for task in tasks:
                if (
                    self.get_connection()
                    .filter(id=task.id, lock=task.lock)
                    .update(lock=self.timeout(task))
                ):
                    task_list.append((task.pk, task.payload))
                # else another cluster took it first
            return task_list
        self._wait(listener, Conf.POLL)
        return None

    def _listening(self) -> Any:
        """This process's listening connection, opened if needed; None (plain polling) on
        another database or while a failed connection waits for its retry."""
        if self._listener is not None and self._listener_pid == os.getpid():
            return self._listener
        self._listener = None  # a forked child never uses its parent's socket
        if Conf.ORM is None or connections[Conf.ORM].vendor != "postgresql":
            return None
        if time.monotonic() < self._retry_at:
            return None
        import psycopg
        from psycopg import sql

        params = connections[Conf.ORM].get_connection_params()
        for name in ("context", "cursor_factory", "prepare_threshold"):
            params.pop(name, None)
        try:
            listener = psycopg.connect(**params, autocommit=True)
            listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel(self.list_key))))
        except psycopg.Error as exc:
            logger.warning("Cannot LISTEN for new tasks (polling instead): %s", exc)
            self._retry_at = time.monotonic() + RECONNECT_SECONDS
            return None
        self._listener, self._listener_pid = listener, os.getpid()
        return listener

    def _wait(self, listener: Any, timeout: float) -> None:
        """Until a notification arrives or ``timeout`` seconds passed."""
        if listener is None:
            time.sleep(timeout)
            return
        import psycopg

        try:
            for _ in listener.notifies(timeout=timeout, stop_after=1):
                pass
            for _ in listener.notifies(timeout=0):  # the others already here: one look
                pass
        except (psycopg.Error, OSError) as exc:
            logger.warning("LISTEN connection lost (polling until it is back): %s", exc)
            self.close_listener()
            self._retry_at = time.monotonic() + RECONNECT_SECONDS
            time.sleep(timeout)

    def close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and self._listener_pid == os.getpid():
            try:
                listener.close()
            except Exception:  # closing a broken connection; nothing to recover
                logger.debug("Closing the LISTEN connection failed", exc_info=True)
