"""p3 (PostgreSQL): ``save()`` with django-pghistory's update tracker (an ``AFTER UPDATE`` row
trigger inserts the event row: the new state, a label, the object and the context), then
``on_commit(async_task)``.

The event model is declared here as ``pghistory.create_event_model(PgHistoryItem,
pghistory.UpdateEvent(), context_field=pghistory.ContextJSONField())`` generates it, because
that function (and the default context, a foreign key to ``pghistory.Context`` filled by a
PL/pgSQL function) needs the ``pghistory`` app in ``INSTALLED_APPS`` and its migrations; the
trigger is pghistory's own (``pghistory.trigger.Event``), installed with pgtrigger. The
denormalized JSON context reads two settings where the default context calls that function.
"""

from __future__ import annotations

from typing import Any

import pgtrigger
from django.db import connection, models, transaction
from pghistory.trigger import Event
from pghistory.utils import JSONField

from . import as_logged, count_rows, enqueue_after_commit, save_other_severity
from .tables import APP_LABEL, PeerItem, peer_apps

# pgtrigger's function that every one of its triggers calls first (``pgtrigger.ignore``)
IGNORE_FUNCTION = "_pgtrigger_should_ignore"
TRACKED = ("id", "status", "severity", "title", "updated_at")


class PgHistoryItem(PeerItem):
    class Meta(PeerItem.Meta):
        db_table = "checkstack_bench_peer_pghistory_item"


class PgHistoryItemEvent(models.Model):
    """``pghistory.models.Event``'s fields, the tracked fields (the key as a plain column),
    the object reference and the denormalized context."""

    pgh_id = models.AutoField(primary_key=True)
    pgh_created_at = models.DateTimeField(auto_now_add=True)
    pgh_label = models.TextField()
    id = models.CharField(max_length=64)
    status = models.CharField(max_length=20)
    severity = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    updated_at = models.DateTimeField()
    pgh_obj = models.ForeignKey(
        PgHistoryItem, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    pgh_context = JSONField(null=True)  # pghistory's, which its trigger recognizes
    pgh_context_id = models.UUIDField(null=True)

    pgh_tracked_model = PgHistoryItem
    objects: models.Manager[PgHistoryItemEvent] = models.Manager()

    class Meta:
        apps = peer_apps
        app_label = APP_LABEL
        db_table = "checkstack_bench_peer_pghistory_event"

    def __str__(self) -> str:
        return f"{self.pgh_label} {self.id}"


# ``pghistory.UpdateEvent()``'s trigger: on an update that changes a tracked field
UPDATE_EVENT = Event(
    name="update_update",
    label="update",
    event_model=PgHistoryItemEvent,
    row="NEW",
    operation=pgtrigger.Update,
    condition=pgtrigger.AnyChange(*TRACKED),
    level=pgtrigger.Row,
)


def function_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL", [f"{name}(name)"])
        return bool(cursor.fetchone()[0])


# pgtrigger annotates its model arguments as instances; they are classes
TRACKED_MODEL: Any = PgHistoryItem


class PgHistoryPeer:
    key = "p3"
    label = "(p3) save() + django-pghistory trigger + on_commit(async_task)"
    models: tuple[type[models.Model], ...] = (PgHistoryItem, PgHistoryItemEvent)
    item_model = PgHistoryItem

    def __init__(self) -> None:
        self.created_ignore_function = False

    def install(self) -> None:
        existed = function_exists(IGNORE_FUNCTION)
        UPDATE_EVENT.install(TRACKED_MODEL)
        self.created_ignore_function = not existed

    def uninstall(self) -> None:
        """Drop the trigger and its function (pgtrigger keeps the function), and pgtrigger's
        shared ``_pgtrigger_should_ignore`` if this run created it."""
        UPDATE_EVENT.uninstall(TRACKED_MODEL)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP FUNCTION IF EXISTS {UPDATE_EVENT.get_pgid(TRACKED_MODEL)}()")
            if self.created_ignore_function:
                cursor.execute(f"DROP FUNCTION IF EXISTS {IGNORE_FUNCTION}(name)")
        self.created_ignore_function = False

    def write(self, item_id: str) -> None:
        with transaction.atomic():
            item, _ = save_other_severity(PgHistoryItem, item_id)
            enqueue_after_commit(item.id)

    def logged(self) -> dict[str, int]:
        return as_logged(history_rows=count_rows(PgHistoryItemEvent))
