"""Work-queue subscribers that run in other processes: forked workers and a real ``qcluster``.

``tests/testapp/apps.py`` calls ``register_qcluster_subscriber`` in ``ready()`` only when the
environment variable ``QCLUSTER_SUBSCRIBER_ENV`` is set, which the qcluster test does for its
subprocess alone. Two more variables, set per cluster by the tests that start several, make the
recorder log what its cluster handled and hang once mid-handler.
"""

from __future__ import annotations

import os
import time

from django.db import transaction

from checkstack.entities import EntityChange, WorkQueue, on_entity_changed

from .models import Record

QCLUSTER_SUBSCRIBER_ENV = "CHECKSTACK_TEST_QCLUSTER_SUBSCRIBER"
QCLUSTER_GROUP = "qcluster-records"
# A file: one line "<entity>:<seq> <change id>" per change this cluster committed.
CLUSTER_LOG_ENV = "CHECKSTACK_TEST_CLUSTER_LOG"
# A file path: the first handler that creates it (exclusively) hangs, so its cluster can be
# killed in the middle of a delivery.
HANG_MARKER_ENV = "CHECKSTACK_TEST_HANG_MARKER"


def record_change(change: EntityChange) -> None:
    """Insert one Record keyed by the change id (unique: a second run raises IntegrityError)."""
    Record.objects.create(key=str(change.change_id))
    marker = os.environ.get(HANG_MARKER_ENV)
    if marker and _first_claim(marker):
        time.sleep(120)  # until the test kills this cluster
    log = os.environ.get(CLUSTER_LOG_ENV)
    if log:
        line = f"{change.entity_id}:{change.seq} {change.change_id}\n"
        transaction.on_commit(lambda: _append(log, line))


def _first_claim(path: str) -> bool:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _append(path: str, line: str) -> None:
    with open(path, "a") as log:
        log.write(line)


def subscribe_change_recorder() -> None:
    on_entity_changed("widget", record_change, WorkQueue(QCLUSTER_GROUP, max_attempts=3))


def register_qcluster_subscriber() -> None:
    """Define the ``widget`` kind and the recording work queue (in the qcluster's ``ready``)."""
    from .entity import register_widget_entity

    register_widget_entity()
    subscribe_change_recorder()
