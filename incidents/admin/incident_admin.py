"""The ``Incident`` model admin: its pages, columns and writes, all through the services.

A submission is one transaction: the incident's own fields first (create or update), then the
timeline and link rows (deletions, edits, additions). A refusal by any service call rolls all of
it back and shows the form again with the service's message on the field or row concerned.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils.timesince import timesince

from checkstack.errors import NotFound
from checkstack.service_admin import (
    REFUSABLE,
    ServiceModelAdmin,
    ServiceRefused,
    adopt,
    refusal_errors,
)

from .. import services
from ..forms import IncidentActionForm, IncidentAddForm, IncidentForm
from ..models import Incident, IncidentSystem
from .actions import delete_incidents, delete_selected, resolve_selected
from .change_log import change_log_table
from .changelist import ActiveFilter, IncidentChangeList, SystemFilter
from .inlines import IncidentLinkInline, IncidentUpdateInline, save_rows
from .system_names import SystemColumns

CREATE_FIELDS = (
    "title",
    "severity",
    "system_ids",
    "description",
    "initial_message",
    "suppress_notifications",
    "health_override",
    "visibility",
)
UPDATE_FIELDS = (
    "title",
    "severity",
    "system_ids",
    "description",
    "suppress_notifications",
    "health_override",
    "visibility",
)


@admin.register(Incident)
class IncidentAdmin(SystemColumns, ServiceModelAdmin):
    manage_permission = "incidents.manage_incident"
    form = IncidentForm
    add_form = IncidentAddForm
    action_form = IncidentActionForm
    actions = (resolve_selected, delete_selected)
    list_display = (
        "title",
        "status",
        "severity",
        "visibility",
        "system_list",
        "age",
        "updated_at",
    )
    list_filter = ("status", "severity", "visibility", SystemFilter, ActiveFilter)
    search_fields = ("title",)
    readonly_fields = ("status", "created_at", "updated_at", "resolved_at", "change_history")
    add_fieldsets = (
        (
            None,
            {
                "fields": (
                    "title",
                    "severity",
                    "visibility",
                    "system_ids",
                    "description",
                    "initial_message",
                )
            },
        ),
        ("Notifications and health", {"fields": ("suppress_notifications", "health_override")}),
    )
    fieldsets = (
        (
            None,
            {"fields": ("title", "status", "severity", "visibility", "system_ids", "description")},
        ),
        ("Notifications and health", {"fields": ("suppress_notifications", "health_override")}),
        ("Dates", {"fields": ("created_at", "updated_at", "resolved_at")}),
        ("Change history", {"fields": ("change_history",), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("systems", queryset=IncidentSystem.objects.order_by("system_id"))
            )
        )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return IncidentChangeList

    def get_fieldsets(self, request: HttpRequest, obj: Incident | None = None) -> Any:
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_form(
        self, request: HttpRequest, obj: Incident | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def get_inlines(
        self, request: HttpRequest, obj: Incident | None
    ) -> list[type[InlineModelAdmin]]:
        # A new incident's first update is its initial message; the timeline follows on edit.
        if obj is None:
            return [IncidentLinkInline]
        return [IncidentUpdateInline, IncidentLinkInline]

    # -- columns and read-only fields ------------------------------------------------------------

    @admin.display(description="age", ordering="-created_at")
    def age(self, obj: Incident) -> str:
        return timesince(obj.created_at, depth=1)

    @admin.display(description="change log")
    def change_history(self, obj: Incident | None) -> str:
        if obj is None or obj.pk is None:
            return "-"
        return change_log_table(obj.pk)

    # -- writes ----------------------------------------------------------------------------------

    def save_through_services(
        self, request: HttpRequest, obj: Incident, form: Any, change: bool
    ) -> None:
        try:
            if not change:
                values = {name: form.cleaned_data[name] for name in CREATE_FIELDS}
                adopt(obj, services.create_incident(actor=request.user, **values))
                return
            values = form.changed_values(UPDATE_FIELDS)
            if values:
                adopt(obj, services.update_incident(obj.pk, actor=request.user, **values))
        except REFUSABLE as exc:
            raise ServiceRefused({"": refusal_errors(exc)}) from exc

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        save_rows(request, form.instance.pk, formset)

    def delete_model(self, request: HttpRequest, obj: Incident) -> None:
        try:
            services.delete_incident(obj.pk, actor=request.user)
        except NotFound:
            messages.warning(request, f"Incident {obj.pk} was already deleted.")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        delete_incidents(self, request, list(queryset))
