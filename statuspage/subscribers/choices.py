"""Enumerations of the subscribers concern."""

from django.db import models


class Channel(models.TextChoices):
    """Where a subscriber's notifications go."""

    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook (signed JSON)"
    SLACK = "slack", "Slack-compatible incoming webhook"


class TopicKind(models.TextChoices):
    SYSTEM = "system", "System"
    GROUP = "group", "Group"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # The item stopped being public (or was deleted) before its turn: nothing was sent.
    SKIPPED = "skipped", "Skipped"


class Event(models.TextChoices):
    """What a notification tells (the trigger ids of the incidents and maintenance kinds)."""

    INCIDENT_CREATED = "incident.created", "New incident"
    INCIDENT_UPDATED = "incident.updated", "Incident update"
    INCIDENT_RESOLVED = "incident.resolved", "Incident resolved"
    MAINTENANCE_SCHEDULED = "maintenance.scheduled", "Maintenance scheduled"
    MAINTENANCE_STARTED = "maintenance.started", "Maintenance started"
    MAINTENANCE_COMPLETED = "maintenance.completed", "Maintenance completed"
    MAINTENANCE_CANCELLED = "maintenance.cancelled", "Maintenance cancelled"
