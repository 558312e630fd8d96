"""From an event to notification rows: the work-queue handlers of the ``incident``,
``incident-update`` and ``maintenance`` kinds.

A handler runs in the entity layer's worker, inside the transaction that marks the delivery
done (once per change). It finds the matching confirmed subscribers (everything, a topic
system among the event's systems, or a topic group holding one of them) and inserts their
notifications in one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING id``: however
many subscribers, a constant number of queries, and a (subscriber, event key) pair that exists
already (the same event handled twice, or reached through two changes) gets no second row.
After COMMIT one send task per ``BATCH_SIZE`` new rows is enqueued.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from checkstack.automation.queueing import enqueue_after_commit
from checkstack.entities import EntityChange
from statuspage.models import Notification, Subscriber, SubscriberTopic

from . import topics
from .choices import NotificationStatus, TopicKind
from .conf import app_settings
from .events import NotificationEvent, incident_event, incident_update_event, maintenance_event

SEND_TASK = "statuspage.subscribers.tasks.send_notifications"
GROUP = "statuspage-subscribers"


def matching_subscribers(system_ids: tuple[str, ...]) -> QuerySet[Subscriber]:
    """Confirmed subscribers of everything, or of one of the systems or of a group holding one."""
    chose = SubscriberTopic.objects.filter(subscriber=OuterRef("pk")).filter(
        Q(kind=TopicKind.SYSTEM, target_id__in=list(system_ids))
        | Q(kind=TopicKind.GROUP, target_id__in=topics.groups_containing(system_ids))
    )
    wanted = Q(everything=True)
    if system_ids:
        wanted |= Q(Exists(chose))
    return Subscriber.objects.filter(wanted, confirmed_at__isnull=False)


def insert_notifications(event: NotificationEvent) -> list[int]:
    """One notification per matching subscriber that has none for this event; their ids."""
    subscribers_sql, subscriber_params = (
        matching_subscribers(event.system_ids)
        .order_by()
        .values("id")
        .query.get_compiler(connection=connection)
        .as_sql()
    )
    table = connection.ops.quote_name(Notification._meta.db_table)
    now = timezone.now()
    # WHERE true: SQLite reads ON CONFLICT after a bare SELECT ... FROM as a join constraint.
    sql = (
        f"INSERT INTO {table} (subscriber_id, event, event_key, subject_type, subject_id, "
        "update_id, status, attempts, next_attempt_at, claimed_until, claim_token, last_error, "
        "created_at, sent_at) "
        f"SELECT m.id, %s, %s, %s, %s, %s, %s, 0, %s, NULL, '', '', %s, NULL "
        f"FROM ({subscribers_sql}) AS m WHERE true "
        "ON CONFLICT (subscriber_id, event_key) DO NOTHING RETURNING id"
    )
    at = connection.ops.adapt_datetimefield_value(now)
    params = [
        event.event.value,
        event.key,
        event.subject_type,
        event.subject_id,
        event.update_id,
        NotificationStatus.PENDING.value,
        at,
        at,
        *subscriber_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def batches(ids: list[int], size: int) -> list[str]:
    """Task arguments: comma-separated ids, ``size`` per batch."""
    return [",".join(map(str, ids[i : i + size])) for i in range(0, len(ids), size)]


def enqueue_batches(ids: list[int]) -> None:
    """After COMMIT, one send task per ``BATCH_SIZE`` notifications."""
    enqueue_after_commit(SEND_TASK, batches(ids, app_settings.BATCH_SIZE))


def notify(event: NotificationEvent | None) -> list[int]:
    if event is None:
        return []
    ids = insert_notifications(event)
    enqueue_batches(ids)
    return ids


def on_incident_changed(change: EntityChange) -> None:
    notify(incident_event(change))


def on_incident_update_changed(change: EntityChange) -> None:
    notify(incident_update_event(change))


def on_maintenance_changed(change: EntityChange) -> None:
    notify(maintenance_event(change))
