"""Admin forms of incidents, timeline updates and links.

The fields are lenient on purpose: ``incidents.services`` validates every value on save and the
admin shows its messages (see ``checkstack.service_admin`` for the machinery).
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.admin import helpers, widgets

from checkstack.service_admin import ServiceChoiceField, ServiceForm

from .choices import HealthOverride, Severity, Status, Visibility

NO_CHOICE = [("", "---------")]


class SystemIdsField(forms.CharField):
    """System ids as comma-separated text; an unchanged set in another order is no change."""

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
        return [part for part in re.split(r"[\s,]+", str(value or "")) if part]

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return ", ".join(value)
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        return sorted(set(self.to_python(initial))) != sorted(set(self.to_python(data)))


class IncidentForm(ServiceForm):
    """The incident's own fields on the change page (status changes through the timeline)."""

    title = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"maxlength": 200, "class": "vTextField"})
    )
    description = forms.CharField(
        required=False,
        help_text="Markdown.",
        widget=forms.Textarea(attrs={"rows": 4, "class": "vLargeTextField"}),
    )
    severity = ServiceChoiceField(choices=Severity.choices, required=False)
    system_ids = SystemIdsField(
        label="Systems",
        required=False,
        help_text="Ids of the affected systems, separated by commas (at least one).",
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )
    suppress_notifications = forms.BooleanField(required=False)
    health_override = ServiceChoiceField(
        choices=NO_CHOICE + HealthOverride.choices,
        required=False,
        help_text="Shown as the health of the affected systems while the incident is active.",
    )
    visibility = ServiceChoiceField(
        choices=Visibility.choices,
        required=False,
        help_text="Who sees the incident on the status page and in the API (managers see all).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.initial.setdefault(
                "system_ids", sorted(s.system_id for s in self.instance.systems.all())
            )


class IncidentAddForm(IncidentForm):
    initial_message = forms.CharField(
        required=False,
        help_text="Optional first timeline update (public, status 'investigating').",
        widget=forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"}),
    )


class IncidentUpdateForm(ServiceForm):
    message = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 50}), help_text="Markdown."
    )
    status_change = ServiceChoiceField(
        choices=NO_CHOICE + Status.choices,
        required=False,
        help_text="Sets the incident's status (the newest status-bearing update wins).",
    )
    visibility = ServiceChoiceField(choices=Visibility.choices, required=False)
    created_at = forms.SplitDateTimeField(
        label="Published",
        required=False,
        widget=widgets.AdminSplitDateTime,
        help_text="Leave blank on a new update: it is published now.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:
            # A new update is published at save time; the model default is not an input.
            self.initial.pop("created_at", None)


class IncidentLinkForm(ServiceForm):
    label = forms.CharField(required=False, widget=forms.TextInput(attrs={"maxlength": 120}))
    url = forms.CharField(
        label="URL",
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 2000, "class": "vURLField"}),
    )
    visibility = ServiceChoiceField(choices=Visibility.choices, required=False)


class IncidentActionForm(helpers.ActionForm):
    """The changelist's action bar, with the message "Resolve selected" writes."""

    message = forms.CharField(
        required=False,
        label="Resolution message",
        widget=forms.TextInput(attrs={"placeholder": "Incident resolved"}),
    )
