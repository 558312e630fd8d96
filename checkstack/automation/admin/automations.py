"""Admin of automations; every write goes through ``checkstack.automation.services``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from checkstack.errors import NotFound
from checkstack.service_admin import (
    REFUSABLE,
    ServiceModelAdmin,
    ServiceRefused,
    adopt,
    refusal_errors,
)

from .. import services
from ..forms import AutomationForm
from ..models import (
    Automation,
    AutomationRun,
)
from .logs import without_log_permissions

AUTOMATION_FIELDS = ("name", "description", "enabled", "trigger", "steps", "concurrency")


@admin.register(Automation)
class AutomationAdmin(ServiceModelAdmin):
    manage_permission = "automation.manage_automation"
    form = AutomationForm
    list_display = ("name", "event", "enabled", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("name", "id")
    ordering = ("name", "id")
    fields = ("id", *AUTOMATION_FIELDS, "created_at", "updated_at")
    readonly_fields = ("id", "created_at", "updated_at")

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted = super().get_deleted_objects(objs, request)
        return without_log_permissions(deleted, (AutomationRun,))

    @admin.display(description="trigger event")
    def event(self, obj: Automation) -> str:
        return str((obj.trigger or {}).get("event", ""))

    def save_through_services(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        try:
            if change:
                values = form.changed_values(AUTOMATION_FIELDS)
                saved = (
                    services.update_automation(obj.pk, actor=request.user, **values)
                    if values
                    else obj
                )
            else:
                saved = services.create_automation(
                    actor=request.user,
                    **{name: form.cleaned_data[name] for name in AUTOMATION_FIELDS},
                )
        except REFUSABLE as exc:
            raise ServiceRefused({"": refusal_errors(exc)}) from exc
        adopt(obj, saved)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        try:
            services.delete_automation(obj.pk, actor=request.user)
        except NotFound:
            messages.warning(request, f"Automation {obj.pk} was already deleted.")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
