"""Query parameters of the incident list, validated by django-filter, applied by the service."""

from __future__ import annotations

from typing import Any

import django_filters

from checkstack.api.filters import BooleanFilter, ChoiceFilter

from .. import services
from ..choices import Severity, Status
from ..models import Incident
from .permissions import audience_for


class IncidentFilter(django_filters.FilterSet):
    status = ChoiceFilter(
        choices=Status.choices, help_text="Only this status (include_resolved is then ignored)."
    )
    severity = ChoiceFilter(choices=Severity.choices)
    system = django_filters.CharFilter(help_text="Only incidents linked to this system id.")
    include_resolved = BooleanFilter(help_text="Also list resolved incidents (default false).")
    search = django_filters.CharFilter(help_text="Case-insensitive substring of the title.")
    ordering = ChoiceFilter(
        choices=[(o, o) for o in services.ORDERINGS],
        help_text="Sort key, '-' for descending; default -updated_at.",
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def filter_queryset(self, queryset: Any) -> Any:
        data = self.form.cleaned_data
        return services.list_incidents(
            status=data.get("status") or None,
            include_resolved=bool(data.get("include_resolved")),
            system_id=data.get("system") or None,
            severity=data.get("severity") or None,
            search=data.get("search") or None,
            ordering=data.get("ordering") or "-updated_at",
            visibilities=audience_for(getattr(self.request, "user", None)).visibilities,
        )
