"""Query parameters of the run list, validated by django-filter, applied by the service."""

from __future__ import annotations

from typing import Any

import django_filters

from checkstack.api.filters import ChoiceFilter

from .. import runs
from ..models import AutomationRun, RunStatus


class RunFilter(django_filters.FilterSet):
    automation = django_filters.CharFilter(help_text="Only runs of this automation id.")
    status = ChoiceFilter(choices=RunStatus.choices)

    class Meta:
        model = AutomationRun
        fields: list[str] = []

    def filter_queryset(self, queryset: Any) -> Any:
        data = self.form.cleaned_data
        return runs.list_runs(
            automation_id=data.get("automation") or None, status=data.get("status") or None
        )
