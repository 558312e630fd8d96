"""Admin forms of maintenances: lenient fields, validated by the services on save."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin import helpers, widgets

from checkstack.service_admin import ServiceChoiceField, ServiceForm
from incidents.choices import Visibility
from incidents.forms import SystemIdsField


class MaintenanceForm(ServiceForm):
    """A maintenance's own fields (its status moves through the changelist's actions)."""

    title = forms.CharField(
        required=False,
        help_text="Shown on the status page.",
        widget=forms.TextInput(attrs={"maxlength": 200, "class": "vTextField"}),
    )
    description = forms.CharField(
        required=False,
        help_text="What changes for the people affected (Markdown).",
        widget=forms.Textarea(attrs={"rows": 6, "class": "vLargeTextField"}),
    )
    system_ids = SystemIdsField(
        label="Systems",
        required=False,
        help_text="Ids of the systems under maintenance, separated by commas (at least one).",
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )
    starts_at = forms.SplitDateTimeField(
        label="Starts", required=False, widget=widgets.AdminSplitDateTime
    )
    ends_at = forms.SplitDateTimeField(
        label="Ends",
        required=False,
        widget=widgets.AdminSplitDateTime,
        help_text="After the start. The maintenance starts and completes on time by itself.",
    )
    visibility = ServiceChoiceField(choices=Visibility.choices, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.initial.setdefault(
                "system_ids", sorted(s.system_id for s in self.instance.systems.all())
            )


class MaintenanceActionForm(helpers.ActionForm):
    """The changelist's action bar, with the timeline message the transitions write."""

    message = forms.CharField(
        required=False,
        label="Timeline message",
        widget=forms.TextInput(attrs={"placeholder": "Default message"}),
    )
