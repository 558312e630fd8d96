"""Query parameters of the maintenance list, validated by django-filter, applied by the service."""

from __future__ import annotations

from typing import Any

import django_filters

from checkstack.api.filters import ChoiceFilter
from checkstack.visibility import visibilities_for
from incidents.choices import Visibility
from statuspage.models import Maintenance

from .. import services
from ..choices import MaintenanceStatus


class MaintenanceFilter(django_filters.FilterSet):
    status = ChoiceFilter(choices=MaintenanceStatus.choices)
    system = django_filters.CharFilter(help_text="Only maintenances of this system id.")
    visibility = ChoiceFilter(
        choices=Visibility.choices, help_text="Only this visibility (among those you may see)."
    )
    ordering = ChoiceFilter(
        choices=[(o, o) for o in services.ORDERINGS],
        help_text=f"Sort key, '-' for descending; default {services.DEFAULT_ORDERING}.",
    )

    class Meta:
        model = Maintenance
        fields: list[str] = []

    def filter_queryset(self, queryset: Any) -> Any:
        data = self.form.cleaned_data
        return services.list_maintenances(
            visibilities=visibilities_for(getattr(self.request, "user", None)),
            status=data.get("status") or None,
            system_id=data.get("system") or None,
            visibility=data.get("visibility") or None,
            ordering=data.get("ordering") or services.DEFAULT_ORDERING,
        )
