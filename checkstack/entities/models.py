"""Tables of the entity framework: the change log, field transitions and the outbox.

Rows are written only by the entity handle, inside the domain write's transaction. Models have
no side effects.
"""

from __future__ import annotations

import uuid

from django.db import models


class EntitySequence(models.Model):
    """Per-entity change counter; its row lock is the entity's write lock.

    Upserting this row both serializes writers of one entity (existing or not yet created) and
    hands out the next ``seq``, in one statement. ``last_seq`` is the ``seq`` of the entity's
    latest logged change (on SQLite, while a write runs, the one it reserved).
    """

    kind = models.CharField(max_length=100)
    entity_id = models.CharField(max_length=255)
    last_seq = models.PositiveBigIntegerField(default=0)
    # How many times the entity was locked (never given back): a statement
    # that read the entity before its lock wait can tell whether a writer committed meanwhile.
    locks = models.PositiveBigIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "entity_id"], name="entities_sequence_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.entity_id} @ {self.last_seq}"


class Change(models.Model):
    """One committed, non-empty difference of one entity. Append-only."""

    change_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=100)
    entity_id = models.CharField(max_length=255)
    seq = models.PositiveBigIntegerField()
    prev = models.JSONField(null=True, blank=True)
    next = models.JSONField(null=True, blank=True)
    delta = models.JSONField(default=dict)
    changed_fields = models.JSONField(default=list)
    actor = models.JSONField()
    run_id = models.CharField(max_length=64, null=True, blank=True)
    occurred_at = models.DateTimeField()
    request_id = models.CharField(max_length=128, null=True, blank=True)

    class Meta:
        ordering = ["kind", "entity_id", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "entity_id", "seq"], name="entities_change_seq_uniq"
            )
        ]
        indexes = [
            models.Index(
                fields=["kind", "entity_id", "occurred_at"], name="entities_change_time_idx"
            ),
            models.Index(fields=["occurred_at"], name="entities_change_occurred_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.entity_id} #{self.seq}"

    @property
    def is_tombstone(self) -> bool:
        return self.next is None


class Transition(models.Model):
    """One changed field of a non-tombstone change; powers ``in_state_since`` and counts."""

    # No database constraint on the log's own references: the entity handle writes the rows
    # together, and a deferred foreign-key check per row would run at every COMMIT.
    change = models.ForeignKey(
        Change, on_delete=models.CASCADE, related_name="transitions", db_constraint=False
    )
    kind = models.CharField(max_length=100)
    entity_id = models.CharField(max_length=255)
    field = models.CharField(max_length=100)
    from_value = models.JSONField(null=True, blank=True)
    to_value = models.JSONField(null=True, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["kind", "entity_id", "field", "occurred_at"], name="entities_transition_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.entity_id}.{self.field}"


class TriggerEvent(models.Model):
    """An automation trigger event derived from a change; part of the outbox."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.CharField(max_length=150)
    payload = models.JSONField()
    context_key = models.CharField(max_length=255, null=True, blank=True)
    change = models.ForeignKey(
        Change, on_delete=models.PROTECT, related_name="trigger_events", db_constraint=False
    )
    actor = models.JSONField()
    created_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["event", "context_key"], name="entities_trigger_ctx_idx"),
            models.Index(
                fields=["created_at"],
                name="entities_trigger_pending_idx",
                condition=models.Q(dispatched_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} ({self.context_key})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    DEAD = "dead", "Dead"


class Delivery(models.Model):
    """One durable (work-queue) delivery of a change to a subscriber group; part of the outbox."""

    change = models.ForeignKey(
        Change,
        on_delete=models.PROTECT,
        related_name="deliveries",
        db_constraint=False,
        db_index=False,  # the unique (change, group) constraint serves lookups by change
    )
    group = models.CharField(max_length=100)
    kind = models.CharField(max_length=100)
    entity_id = models.CharField(max_length=255)
    seq = models.PositiveBigIntegerField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["change", "group"], name="entities_delivery_uniq")
        ]
        indexes = [
            models.Index(
                fields=["group", "kind", "entity_id", "seq"], name="entities_delivery_order_idx"
            ),
            models.Index(
                fields=["next_attempt_at"],
                name="entities_delivery_due_idx",
                condition=models.Q(status__in=["pending", "running"]),
            ),
            # The open deliveries of a line ("is an earlier one pending?"): as small as the
            # backlog, so the planner prefers it even on statistics older than a burst.
            models.Index(
                fields=["group", "kind", "entity_id", "seq"],
                name="entities_delivery_open_idx",
                condition=models.Q(status__in=["pending", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group} <- {self.kind}:{self.entity_id} #{self.seq} ({self.status})"
