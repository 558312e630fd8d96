"""Scheduled maintenance tables. Written only through ``statuspage.maintenance.services``."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.choices import Visibility

from ..maintenance.choices import MaintenanceStatus

__all__ = ["Maintenance", "MaintenanceSystem", "MaintenanceUpdate"]


def new_id() -> str:
    return str(uuid.uuid4())


class Maintenance(models.Model):
    """A planned window of work on some systems: scheduled → in progress → completed, or
    cancelled before it completes."""

    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=20, choices=MaintenanceStatus.choices, default=MaintenanceStatus.SCHEDULED
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at", "id"]
        verbose_name = "scheduled maintenance"
        verbose_name_plural = "scheduled maintenances"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="statuspage_maintenance_ends_after_start",
            )
        ]
        indexes = [
            # The schedule's two questions: which scheduled ones start, which running ones end.
            models.Index(fields=["status", "starts_at"], name="statuspage_maint_start_idx"),
            models.Index(fields=["status", "ends_at"], name="statuspage_maint_end_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class MaintenanceSystem(models.Model):
    maintenance = models.ForeignKey(Maintenance, on_delete=models.CASCADE, related_name="systems")
    system_id = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["maintenance", "system_id"], name="statuspage_maint_system_uniq"
            )
        ]
        indexes = [models.Index(fields=["system_id"], name="statuspage_maint_system_idx")]

    def __str__(self) -> str:
        return self.system_id


class MaintenanceUpdate(models.Model):
    """One timeline entry of a maintenance; ``status_change`` when it moved the status."""

    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    maintenance = models.ForeignKey(Maintenance, on_delete=models.CASCADE, related_name="updates")
    message = models.TextField()
    status_change = models.CharField(
        max_length=20, choices=MaintenanceStatus.choices, null=True, blank=True
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["maintenance", "created_at"], name="statuspage_maint_update_idx")
        ]

    def __str__(self) -> str:
        return self.message[:60]
