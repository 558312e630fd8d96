"""Admin of catalog systems and groups; every write goes through ``catalog.services``."""

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

from . import services
from .forms import GroupForm, SystemForm
from .models import Group, System

SYSTEM_FIELDS = ("name", "description", "metadata")
GROUP_FIELDS = ("name", "metadata", "system_ids")


class CatalogAdmin(ServiceModelAdmin):
    """Systems and groups: created, updated and deleted through their services."""

    manage_permission = "catalog.manage_catalog"
    search_fields = ("name", "id")
    ordering = ("name", "id")
    service_fields: tuple[str, ...] = ()
    relation: str  # the other side of the membership, prefetched and listed by name
    create_service: Any
    update_service: Any
    delete_service: Any

    def save_through_services(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        try:
            if change:
                values = form.changed_values(self.service_fields)
                saved = (
                    type(self).update_service(obj.pk, actor=request.user, **values)
                    if values
                    else obj
                )
            else:
                saved = type(self).create_service(
                    id=form.cleaned_data["id"],
                    actor=request.user,
                    **{name: form.cleaned_data[name] for name in self.service_fields},
                )
        except REFUSABLE as exc:
            raise ServiceRefused({"": refusal_errors(exc, conflict_field="id")}) from exc
        adopt(obj, saved)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        try:
            type(self).delete_service(obj.pk, actor=request.user)
        except NotFound:
            messages.warning(
                request, f"{str(self.opts.verbose_name).capitalize()} {obj.pk} was already deleted."
            )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The id is chosen on create only.
        readonly = ("created_at", "updated_at")
        return readonly if obj is None else ("id", *readonly)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related(self.relation)

    def relation_names(self, obj: Any) -> str:
        return ", ".join(other.name for other in getattr(obj, self.relation).all())


@admin.register(System)
class SystemAdmin(CatalogAdmin):
    form = SystemForm
    service_fields = SYSTEM_FIELDS
    create_service = staticmethod(services.create_system)
    update_service = staticmethod(services.update_system)
    delete_service = staticmethod(services.delete_system)
    relation = "groups"
    list_display = ("name", "id", "group_names", "updated_at")
    fields = ("id", "name", "description", "metadata", "created_at", "updated_at")

    @admin.display(description="groups")
    def group_names(self, obj: System) -> str:
        return self.relation_names(obj)


@admin.register(Group)
class GroupAdmin(CatalogAdmin):
    form = GroupForm
    service_fields = GROUP_FIELDS
    create_service = staticmethod(services.create_group)
    update_service = staticmethod(services.update_group)
    delete_service = staticmethod(services.delete_group)
    relation = "systems"
    list_display = ("name", "id", "system_names", "updated_at")
    fields = ("id", "name", "metadata", "system_ids", "created_at", "updated_at")

    @admin.display(description="systems")
    def system_names(self, obj: Group) -> str:
        return self.relation_names(obj)

    @admin.display(description="systems")
    def system_ids(self, obj: Group) -> str:
        """Shown in place of the form field of that name to staff who may only view."""
        return self.relation_names(obj)
