"""Admin forms of the catalog: systems and groups, validated by the catalog services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.widgets import FilteredSelectMultiple

from checkstack.service_admin import JSONField, ServiceForm, ServiceMultipleChoiceField


def _system_choices() -> list[tuple[str, str]]:
    from .services import list_systems  # lazily: this module stays importable without models

    return [(system.pk, f"{system.name} ({system.pk})") for system in list_systems()]


class SystemForm(ServiceForm):
    id = forms.CharField(
        label="Id",
        required=False,
        help_text="Optional slug such as 'api' (lower-case letters, digits, '-', '_', '.'); "
        "left blank, a UUID is generated. Cannot be changed later.",
    )
    name = forms.CharField(required=False, widget=forms.TextInput(attrs={"maxlength": 200}))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    metadata = JSONField(
        required=False,
        help_text="A JSON object, at most 64 KiB.",
        widget=forms.Textarea(attrs={"rows": 6, "class": "vLargeTextField"}),
    )


class GroupForm(ServiceForm):
    id = forms.CharField(
        label="Id",
        required=False,
        help_text="Optional slug such as 'core-platform'; left blank, a UUID is generated.",
    )
    name = forms.CharField(required=False, widget=forms.TextInput(attrs={"maxlength": 200}))
    metadata = JSONField(
        required=False,
        help_text="A JSON object, at most 64 KiB.",
        widget=forms.Textarea(attrs={"rows": 4, "class": "vLargeTextField"}),
    )
    system_ids = ServiceMultipleChoiceField(
        label="Systems",
        required=False,
        choices=_system_choices,
        widget=FilteredSelectMultiple("systems", is_stacked=False),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.initial.setdefault(
                "system_ids", sorted(system.pk for system in self.instance.systems.all())
            )
