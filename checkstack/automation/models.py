"""Models of automations, runs and webhooks (built by the automation engine issue).

Written only through ``checkstack.automation.services``, which validates every definition.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils import timezone


def new_id() -> str:
    return str(uuid.uuid4())


def default_trigger() -> dict[str, Any]:
    return {"event": "", "filter": ""}


def default_concurrency() -> dict[str, Any]:
    return {"scope": "automation", "mode": "parallel", "max_runs": 5}


class Automation(models.Model):
    """A trigger event wired to a list of action steps."""

    id = models.CharField(primary_key=True, max_length=100, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    trigger = models.JSONField(default=default_trigger)
    steps = models.JSONField(default=list, blank=True)
    concurrency = models.JSONField(default=default_concurrency)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [("manage_automation", "Can manage automations, runs and webhooks")]

    def __str__(self) -> str:
        return self.name


def new_message_id() -> str:
    """A Standard Webhooks message id: stable for one delivery across all its attempts."""
    return f"msg_{uuid.uuid4().hex}"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"


ACTIVE_RUN_STATUSES = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING)


class StepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class AutomationRun(models.Model):
    """One execution of an automation for one trigger event."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="runs")
    # The entities app's trigger event; no database constraint so the log can be pruned.
    trigger_event_id = models.UUIDField(null=True, blank=True)
    event = models.CharField(max_length=150)
    payload = models.JSONField(default=dict)
    actor = models.JSONField(default=dict)
    context_key = models.CharField(max_length=255, null=True, blank=True)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.PENDING)
    error = models.TextField(blank=True, default="")
    # Index into the automation's steps of the next step to execute.
    step_index = models.PositiveIntegerField(default=0)
    # Starts of the current step; a worker crash leaves it counted, which bounds replays.
    step_attempts = models.PositiveIntegerField(default=0)
    steps_snapshot = models.JSONField(default=list)
    wait_event = models.CharField(max_length=150, blank=True, default="")
    wait_context_key = models.CharField(max_length=255, null=True, blank=True)
    wait_started_at = models.DateTimeField(null=True, blank=True)
    wait_until = models.DateTimeField(null=True, blank=True)
    resume = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "trigger_event_id"], name="automation_run_once_per_event"
            )
        ]
        indexes = [
            models.Index(
                fields=["automation", "context_key", "status"], name="automation_run_bucket_idx"
            ),
            models.Index(fields=["status", "updated_at"], name="automation_run_status_idx"),
            models.Index(
                fields=["wait_event", "wait_context_key"],
                name="automation_run_wait_idx",
                condition=models.Q(status="waiting"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} run {self.pk}"


class RunStep(models.Model):
    """The record of one executed step of a run."""

    run = models.ForeignKey(AutomationRun, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    step_id = models.CharField(max_length=100)
    action = models.CharField(max_length=150)
    status = models.CharField(max_length=20, choices=StepStatus.choices)
    config = models.JSONField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="automation_step_once")
        ]

    def __str__(self) -> str:
        return f"{self.step_id} ({self.status})"


class RunArtifact(models.Model):
    """An artifact a step produced; later steps (and later runs of the same automation and
    context key) consume it, newest first."""

    run = models.ForeignKey(AutomationRun, on_delete=models.CASCADE, related_name="artifacts")
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="+")
    context_key = models.CharField(max_length=255, null=True, blank=True)
    step_id = models.CharField(max_length=100)
    type = models.CharField(max_length=100)
    data = models.JSONField()
    external_id = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["automation", "context_key", "type", "-created_at"],
                name="automation_artifact_find_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} from {self.step_id}"


class WebhookEndpoint(models.Model):
    """A URL that receives signed POSTs for matching trigger events."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.CharField(max_length=2000)
    secret = models.CharField(max_length=200)
    events = models.JSONField(default=list)
    system_ids = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One message to one endpoint (unique per endpoint and trigger event), with its attempts."""

    id = models.BigAutoField(primary_key=True)
    message_id = models.CharField(max_length=64, unique=True, default=new_message_id)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    trigger_event_id = models.UUIDField(null=True, blank=True)
    event_type = models.CharField(max_length=150)
    data = models.JSONField(default=dict)
    # Deliveries of one endpoint with the same key (the incident) go out in order.
    ordering_key = models.CharField(max_length=255, null=True, blank=True)
    status = models.CharField(
        max_length=20,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=6)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # While ``sending``: when the attempt is presumed lost (worker crash) and may be retried.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "trigger_event_id"], name="webhook_delivery_once_per_event"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx"),
            models.Index(
                fields=["endpoint", "ordering_key", "id"], name="webhook_delivery_line_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    outcome = models.CharField(max_length=20)  # success | retry | failed
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
