"""Subscriber and notification tables. Written only through ``statuspage.subscribers.services``
(subscriptions) and the notification workers (``fanout``, ``sending``)."""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..subscribers.choices import Channel, NotificationStatus, TopicKind

__all__ = ["Notification", "Subscriber", "SubscriberTopic", "new_nonce"]


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


class Subscriber(models.Model):
    """Someone told about incidents and maintenance: an email address (double opt-in), or a
    webhook / Slack-compatible URL added by a manager."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    # Lower-cased by the services; NULL for URL subscribers (so unique among email ones).
    email = models.EmailField(max_length=254, null=True, blank=True, unique=True)
    url = models.URLField(max_length=2000, null=True, blank=True)
    # The Standard Webhooks signing secret of a webhook subscriber ("" for the other channels).
    secret = models.CharField(max_length=100, blank=True, default="")
    # True: every public incident and maintenance; False: only those of its topics.
    everything = models.BooleanField(default=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # In every signed link: a link stops working when the nonce changes or the row is deleted.
    nonce = models.CharField(max_length=32, default=new_nonce, editable=False)
    # When the last confirmation (or "already subscribed") mail went out: resends are spaced.
    mailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(channel=Channel.EMAIL) & Q(email__isnull=False) & Q(url__isnull=True))
                | (~Q(channel=Channel.EMAIL) & Q(email__isnull=True) & Q(url__isnull=False)),
                name="statuspage_subscriber_address",
            )
        ]

    def __str__(self) -> str:
        return self.email or self.url or str(self.pk)

    @property
    def address(self) -> str:
        return self.email or self.url or ""


class SubscriberTopic(models.Model):
    """A system or group a subscriber (with ``everything`` off) chose: one row each, so finding
    who to tell is a query on ``(kind, target_id)``."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="topics")
    kind = models.CharField(max_length=10, choices=TopicKind.choices)
    target_id = models.CharField(max_length=255)

    class Meta:
        ordering = ["kind", "target_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "kind", "target_id"], name="statuspage_topic_uniq"
            )
        ]
        indexes = [models.Index(fields=["kind", "target_id"], name="statuspage_topic_target_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.target_id}"


class Notification(models.Model):
    """One message to one subscriber about one event: unique per (subscriber, event key), so
    however often an event is handled, the subscriber is told once."""

    id = models.BigAutoField(primary_key=True)
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=40)
    # What makes the event unique, e.g. "incident:<id>:created", "incident-update:<id>".
    event_key = models.CharField(max_length=200)
    subject_type = models.CharField(max_length=20)  # "incident" or "maintenance"
    subject_id = models.CharField(max_length=255)
    update_id = models.CharField(max_length=36, null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Set while a worker sends; a claim that expired means the worker died mid-send.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "event_key"], name="statuspage_notification_uniq"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="statuspage_notif_due_idx")
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscriber_id}"
