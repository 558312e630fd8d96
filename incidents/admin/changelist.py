"""The incident changelist: its system and active/resolved filters, names looked up per page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest

from ..choices import Status
from ..models import Incident, IncidentSystem
from .system_names import system_label, system_names


class SystemFilter(admin.SimpleListFilter):
    title = "system"
    parameter_name = "system"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        ids = list(
            IncidentSystem.objects.order_by("system_id")
            .values_list("system_id", flat=True)
            .distinct()
        )
        names = system_names(ids)
        return [(system_id, system_label(system_id, names)) for system_id in ids]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        if self.value():
            return queryset.filter(systems__system_id=self.value())
        return queryset


class ActiveFilter(admin.SimpleListFilter):
    title = "active / resolved"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("resolved", "Resolved")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        if self.value() == "active":
            return queryset.exclude(status=Status.RESOLVED)
        if self.value() == "resolved":
            return queryset.filter(status=Status.RESOLVED)
        return queryset


class IncidentChangeList(ChangeList):
    """Looks up the catalog names of every system on the page at once."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        incidents = list(self.result_list)  # evaluated once; the template reuses the cache
        names = system_names({s.system_id for i in incidents for s in i.systems.all()})
        for incident in incidents:
            incident.catalog_names = names  # type: ignore[attr-defined]
