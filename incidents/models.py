"""Incident tables. Written only through ``incidents.services``."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from .choices import HealthOverride, Severity, Status, Visibility


def new_id() -> str:
    return str(uuid.uuid4())


class Incident(models.Model):
    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INVESTIGATING)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    suppress_notifications = models.BooleanField(default=False)
    health_override = models.CharField(
        max_length=10, choices=HealthOverride.choices, null=True, blank=True
    )
    # Who may read the incident at all (the status page, the API); its updates and links
    # have a visibility of their own on top of this one.
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "id"]
        permissions = [("manage_incident", "Can manage incidents")]
        indexes = [
            models.Index(fields=["-updated_at", "id"], name="incidents_updated_idx"),
            # The default list (active incidents): in a long-lived installation nearly every
            # incident is resolved, and a walk of the full index would skip them all. On
            # PostgreSQL it also holds title and visibility (INCLUDE, migration 0007): a search
            # page is found by an index-only walk.
            models.Index(
                fields=["-updated_at", "id"],
                condition=~models.Q(status="resolved"),
                name="incidents_active_idx",
            ),
            # With the id, a page of one status is read in order (no incremental sort).
            models.Index(fields=["status", "-updated_at", "id"], name="incidents_status_idx"),
            models.Index(fields=["-created_at"], name="incidents_created_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_active(self) -> bool:
        return self.status != Status.RESOLVED


class IncidentSystem(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="systems")
    system_id = models.CharField(max_length=255)
    # A copy of the incident's updated_at, kept by database triggers (migration 0003) like an
    # index is kept: never written by the application. It lets the list filtered by a system
    # read that system's newest incidents straight from ``incidents_system_sort_idx`` instead
    # of walking every incident newest first and probing each for the system.
    incident_updated_at = models.DateTimeField(null=True, editable=False)
    # Likewise whether the incident is active (not resolved), kept by the same triggers
    # (migration 0006): the default list of a system reads only its active incidents.
    # On SQLite a migration that rebuilds either table (adds or alters a column) must drop
    # these triggers first and create them again after, as 0006 does;
    # tests/incidents/test_list_at_scale.py checks that they exist after all migrations.
    incident_active = models.BooleanField(default=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "system_id"], name="incidents_system_uniq")
        ]
        indexes = [
            models.Index(
                fields=["system_id", "-incident_updated_at", "incident"],
                name="incidents_system_sort_idx",
            ),
            models.Index(
                fields=["system_id", "-incident_updated_at", "incident"],
                condition=models.Q(incident_active=True),
                name="incidents_system_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.system_id


class IncidentUpdate(models.Model):
    """One timeline entry; ``created_at`` is the published time and may be edited."""

    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    message = models.TextField()
    status_change = models.CharField(max_length=20, choices=Status.choices, null=True, blank=True)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    edit_history = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["incident", "created_at"], name="incidents_update_time_idx")
        ]

    def __str__(self) -> str:
        return self.message[:60]


class IncidentLink(models.Model):
    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="links")
    label = models.CharField(max_length=120, null=True, blank=True)
    url = models.URLField(max_length=2000)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "url"], name="incidents_link_url_uniq")
        ]

    def __str__(self) -> str:
        return self.label or self.url
