"""p2: a hand-made transactional outbox: the row's ``save()`` and an outbox row with a JSON
payload in one transaction, then ``on_commit(async_task)`` of that outbox row."""

from __future__ import annotations

from django.db import models, transaction
from django.utils import timezone

from . import as_logged, count_rows, enqueue_after_commit, save_other_severity
from .tables import APP_LABEL, PeerItem, peer_apps


class OutboxItem(PeerItem):
    class Meta(PeerItem.Meta):
        db_table = "checkstack_bench_peer_outbox_item"


class OutboxMessage(models.Model):
    """What a relay would deliver: a topic, the entity's key and its payload."""

    id = models.BigAutoField(primary_key=True)
    topic = models.CharField(max_length=100)
    key = models.CharField(max_length=64)
    payload = models.JSONField()
    created_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True)

    objects: models.Manager[OutboxMessage] = models.Manager()

    class Meta:
        apps = peer_apps
        app_label = APP_LABEL
        db_table = "checkstack_bench_peer_outbox_message"
        # the relay's scan for undelivered messages
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(dispatched_at__isnull=True),
                name="bench_peer_outbox_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.key}"


class OutboxPeer:
    key = "p2"
    label = "(p2) save() + hand-made outbox row + on_commit(async_task)"
    models: tuple[type[models.Model], ...] = (OutboxItem, OutboxMessage)
    item_model = OutboxItem

    def install(self) -> None:
        pass

    def uninstall(self) -> None:
        pass

    def write(self, item_id: str) -> None:
        with transaction.atomic():
            item, previous = save_other_severity(OutboxItem, item_id)
            message = OutboxMessage.objects.create(
                topic="item.updated",
                key=item.id,
                payload={
                    "itemId": item.id,
                    "status": item.status,
                    "severity": item.severity,
                    "previousSeverity": previous,
                },
                created_at=timezone.now(),
            )
            enqueue_after_commit(message.pk)

    def logged(self) -> dict[str, int]:
        return as_logged(outbox_rows=count_rows(OutboxMessage))
