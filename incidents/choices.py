"""Enumerations of the incidents app."""

from django.db import models


class Status(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    FIXING = "fixing", "Fixing"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class Severity(models.TextChoices):
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"


class HealthOverride(models.TextChoices):
    DEGRADED = "degraded", "Degraded"
    UNHEALTHY = "unhealthy", "Unhealthy"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    LOGGED_IN = "logged_in", "Logged-in users"
    INTERNAL = "internal", "Internal"


class Action(models.TextChoices):
    """The ``action`` of the ``incident_changed`` signal."""

    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    RESOLVED = "resolved", "Resolved"
    REOPENED = "reopened", "Reopened"
    DELETED = "deleted", "Deleted"
