"""Query parameters of the catalog lists."""

from __future__ import annotations

from typing import Any

import django_filters

from .. import services
from ..models import Group, System


class SystemFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(help_text="Case-insensitive substring of the name.")

    class Meta:
        model = System
        fields: list[str] = []

    def filter_queryset(self, queryset: Any) -> Any:
        return services.list_systems(search=self.form.cleaned_data.get("search"))


class GroupFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(help_text="Case-insensitive substring of the name.")

    class Meta:
        model = Group
        fields: list[str] = []

    def filter_queryset(self, queryset: Any) -> Any:
        return services.list_groups(search=self.form.cleaned_data.get("search"))
