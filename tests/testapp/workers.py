"""Work-queue subscribers that run in other processes: forked workers and a real ``qcluster``.

``tests/testapp/apps.py`` calls ``register_qcluster_subscriber`` in ``ready()`` only when the
environment variable ``QCLUSTER_SUBSCRIBER_ENV`` is set, which the qcluster test does for its
subprocess alone.
"""

from __future__ import annotations

from checkstack.entities import EntityChange, WorkQueue, on_entity_changed

from .models import Record

QCLUSTER_SUBSCRIBER_ENV = "CHECKSTACK_TEST_QCLUSTER_SUBSCRIBER"
QCLUSTER_GROUP = "qcluster-records"


def record_change(change: EntityChange) -> None:
    """Insert one Record keyed by the change id (unique: a second run raises IntegrityError)."""
    Record.objects.create(key=str(change.change_id))


def subscribe_change_recorder() -> None:
    on_entity_changed("widget", record_change, WorkQueue(QCLUSTER_GROUP, max_attempts=3))


def register_qcluster_subscriber() -> None:
    """Define the ``widget`` kind and the recording work queue (in the qcluster's ``ready``)."""
    from .entity import register_widget_entity

    register_widget_entity()
    subscribe_change_recorder()
