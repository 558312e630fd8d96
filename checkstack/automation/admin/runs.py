"""Admin of runs: a read-only log with their steps and artifacts; cancelling calls the runs
service."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .. import runs
from ..models import (
    AutomationRun,
    RunArtifact,
    RunStep,
)
from .logs import ReadOnlyLogAdmin, ReadOnlyLogInline, apply_to_each


class RunStepInline(ReadOnlyLogInline):
    model = RunStep
    fields = (
        "position",
        "step_id",
        "action",
        "status",
        "attempts",
        "result",
        "error",
        "started_at",
        "finished_at",
    )


class RunArtifactInline(ReadOnlyLogInline):
    model = RunArtifact
    fields = ("step_id", "type", "external_id", "data", "created_at")


@admin.register(AutomationRun)
class AutomationRunAdmin(ReadOnlyLogAdmin):
    list_display = (
        "id",
        "automation",
        "event",
        "context_key",
        "status",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "automation")
    list_select_related = ("automation",)
    search_fields = ("id", "context_key")
    ordering = ("-created_at", "id")
    actions = ("cancel_selected",)
    inlines = (RunStepInline, RunArtifactInline)
    fields = (
        "id",
        "automation",
        "event",
        "context_key",
        "trigger_event_id",
        "status",
        "error",
        "payload",
        "actor",
        "step_index",
        "wait_event",
        "wait_context_key",
        "wait_until",
        "created_at",
        "updated_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields

    @admin.action(description="Cancel selected runs", permissions=["manage"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[AutomationRun]) -> None:
        def cancel(run_id: Any) -> str:
            runs.cancel_run(run_id, actor=request.user)
            return f"Run {run_id} cancelled."

        apply_to_each(self, request, queryset.values_list("pk", flat=True), cancel)
