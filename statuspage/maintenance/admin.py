"""The ``Maintenance`` admin: list, filters, search, a read-only timeline and the start /
complete / cancel actions; every write goes through ``statuspage.maintenance.services``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from checkstack.admin_guard import GuardedChangeList
from checkstack.admin_saves import CreateOrUpdateAdmin
from checkstack.errors import NotFound
from checkstack.service_admin import REFUSABLE, ServiceInline
from incidents.admin.changelist import IncidentChangeList
from incidents.admin.system_names import SystemColumns
from statuspage.models import Maintenance, MaintenanceSystem, MaintenanceUpdate

from . import services
from .entity import KIND
from .forms import MaintenanceActionForm, MaintenanceForm

FIELDS = ("title", "system_ids", "starts_at", "ends_at", "visibility", "description")


class MaintenanceUpdateInline(ServiceInline):
    """The timeline, read-only: updates are written by the transitions (and the API)."""

    model = MaintenanceUpdate
    verbose_name = "timeline update"
    verbose_name_plural = "timeline"
    fields = ("created_at", "message", "status_change", "visibility", "created_by")
    readonly_fields = fields
    ordering = ("created_at", "id")
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[MaintenanceUpdate]:
        return super().get_queryset(request).select_related("created_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MaintenanceChangeList(IncidentChangeList, GuardedChangeList):
    """Guarded lookups, and the catalog names of every system on the page looked up at once
    (incidents' changelist does that for any rows with ``systems``)."""


def refusal_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def transition_action(
    name: str, description: str, service: Callable[..., Maintenance]
) -> Callable[..., None]:
    """A changelist action moving each selected maintenance through ``service``, one
    transaction each; what the rules refuse is reported and changes nothing."""

    def act(
        modeladmin: admin.ModelAdmin[Maintenance],
        request: HttpRequest,
        queryset: QuerySet[Maintenance],
    ) -> None:
        message = request.POST.get("message", "").strip() or None
        moved, refused = 0, []
        for maintenance in queryset.order_by("starts_at", "id"):
            try:
                service(maintenance.pk, message=message, actor=request.user)
            except REFUSABLE as exc:
                refused.append(refusal_text(exc))
            else:
                moved += 1
        if moved:
            modeladmin.message_user(request, f"{description}: {moved} maintenance(s).")
        for reason in refused:
            modeladmin.message_user(request, reason, messages.WARNING)

    act.__name__ = name
    return admin.action(description=f"{description} selected", permissions=["change"])(act)


start_selected = transition_action("start_selected", "Start", services.start_maintenance)
complete_selected = transition_action(
    "complete_selected", "Complete", services.complete_maintenance
)
cancel_selected = transition_action("cancel_selected", "Cancel", services.cancel_maintenance)


@admin.register(Maintenance)
class MaintenanceAdmin(SystemColumns, CreateOrUpdateAdmin):
    manage_permission = "incidents.manage_incident"
    create_fields = update_fields = FIELDS
    form = MaintenanceForm
    action_form = MaintenanceActionForm
    actions = (start_selected, complete_selected, cancel_selected)
    list_display = ("title", "status", "visibility", "system_list", "starts_at", "ends_at")
    list_filter = ("status", "visibility")
    search_fields = ("title",)
    date_hierarchy = "starts_at"
    ordering = ("-starts_at", "id")
    readonly_fields = (
        "status",
        "started_at",
        "finished_at",
        "created_at",
        "updated_at",
        "change_log",
    )
    add_fieldsets = ((None, {"fields": FIELDS}),)
    fieldsets = (
        (None, {"fields": ("title", "status", *FIELDS[1:])}),
        ("Dates", {"fields": ("started_at", "finished_at", "created_at", "updated_at")}),
        ("Change history", {"fields": ("change_log",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Maintenance]:
        systems = Prefetch("systems", queryset=MaintenanceSystem.objects.order_by("system_id"))
        return super().get_queryset(request).prefetch_related(systems)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return MaintenanceChangeList

    def get_fieldsets(self, request: HttpRequest, obj: Maintenance | None = None) -> Any:
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_inlines(
        self, request: HttpRequest, obj: Maintenance | None
    ) -> list[type[InlineModelAdmin]]:
        return [] if obj is None else [MaintenanceUpdateInline]

    # -- columns and read-only fields ------------------------------------------------------------

    @admin.display(description="change log")
    def change_log(self, obj: Maintenance | None) -> str:
        if obj is None or obj.pk is None:
            return "-"
        try:
            url = reverse("admin:entities_change_changelist")
        except NoReverseMatch:
            return "-"
        query = urlencode({"kind": KIND, "entity_id": obj.pk})
        return format_html('<a href="{}?{}">Open in the change log</a>', url, query)

    # -- writes ----------------------------------------------------------------------------------

    def create(self, request: HttpRequest, values: dict[str, Any]) -> Maintenance:
        return services.create_maintenance(actor=request.user, **values)

    def update(self, request: HttpRequest, obj: Maintenance, values: dict[str, Any]) -> Any:
        return services.update_maintenance(obj.pk, actor=request.user, **values)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The timeline is read-only here: nothing to save (and nothing for the log entry)."""
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request: HttpRequest, obj: Maintenance) -> None:
        try:
            services.delete_maintenance(obj.pk, actor=request.user)
        except NotFound:
            messages.warning(request, f"Maintenance {obj.pk} was already deleted.")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Maintenance]) -> None:
        for maintenance in list(queryset):
            self.delete_model(request, maintenance)
