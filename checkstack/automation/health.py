"""The automation backlogs ``/healthz`` reports: runs (queued, waiting, stalled) and webhook
deliveries (pending, the longest overdue, endpoints disabled after failures). One aggregate
query per table, whatever the backlog."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Min, Q
from django.utils import timezone

from checkstack.api.conf import api_settings
from checkstack.api.health import Backlog, past, register_health_check

from .conf import app_settings
from .models import (
    AutomationRun,
    RunStatus,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)


def run_backlog() -> Backlog:
    """``queued``: pending or running (owed to a worker); ``waiting``: for an event or a time;
    ``stalled``: queued without progress for ``RUN_STALE_SECONDS`` (what the sweeper resumes)."""
    stale_since = timezone.now() - dt.timedelta(seconds=app_settings.RUN_STALE_SECONDS)
    queued = Q(status__in=[RunStatus.PENDING, RunStatus.RUNNING])
    # Only the active statuses (the status index), not a scan of every finished run.
    active = [RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING]
    figures = AutomationRun.objects.filter(status__in=active).aggregate(
        queued=Count("pk", filter=queued),
        waiting=Count("pk", filter=Q(status=RunStatus.WAITING)),
        stalled=Count("pk", filter=queued & Q(updated_at__lte=stale_since)),
    )
    stalled = past(figures["stalled"], api_settings.HEALTH_MAX_STALLED_RUNS)
    return Backlog(figures, ("stalled",) if stalled else ())


def webhook_backlog() -> Backlog:
    """``pending``: deliveries not sent yet (waiting for their first attempt or a retry);
    ``oldest_due_seconds``: how long the longest-overdue one has been due (its retry time
    passed), so backoff between attempts is not counted as lag; ``disabled_endpoints``:
    endpoints disabled automatically after failing (not those an operator switched off)."""
    now = timezone.now()
    pending = Q(status=WebhookDeliveryStatus.PENDING)
    deliveries = WebhookDelivery.objects.filter(pending).aggregate(
        pending=Count("pk", filter=pending),
        due_since=Min("next_attempt_at", filter=pending & Q(next_attempt_at__lte=now)),
    )
    due_since = deliveries["due_since"]
    figures = {
        "pending": deliveries["pending"],
        "oldest_due_seconds": round((now - due_since).total_seconds(), 3) if due_since else 0,
        "disabled_endpoints": WebhookEndpoint.objects.filter(disabled_at__isnull=False).count(),
    }
    limits = {
        "oldest_due_seconds": api_settings.HEALTH_MAX_WEBHOOK_AGE,
        "disabled_endpoints": api_settings.HEALTH_MAX_DISABLED_ENDPOINTS,
    }
    return Backlog(
        figures, tuple(name for name, limit in limits.items() if past(figures[name], limit))
    )


def register_health_checks() -> None:
    register_health_check("runs", run_backlog)
    register_health_check("webhooks", webhook_backlog)
