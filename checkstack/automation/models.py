"""Models of automations, runs and webhooks (built by the automation engine issue).

Written only through ``checkstack.automation.services``, which validates every definition.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models


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
