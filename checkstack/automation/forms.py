"""Admin form of automations: JSON textareas validated by the automation services."""

from __future__ import annotations

from django import forms

from checkstack.service_admin import JSONField, ServiceForm


def _json_textarea(rows: int) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "class": "vLargeTextField", "spellcheck": "false"})


class AutomationForm(ServiceForm):
    name = forms.CharField(required=False, widget=forms.TextInput(attrs={"maxlength": 200}))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    enabled = forms.BooleanField(required=False, initial=True)
    trigger = JSONField(
        required=False,
        help_text='{"event": "incident.created", "filter": "trigger.payload.severity == '
        "'critical'\"}: a registered trigger id and an optional Jinja2 expression.",
        widget=_json_textarea(4),
    )
    steps = JSONField(
        required=False,
        help_text='[{"id": "note", "action": "incident.add_update", "config": {...}, '
        '"continue_on_error": false}]: strings with {{ }} or {% %} are Jinja2 templates.',
        widget=_json_textarea(12),
    )
    concurrency = JSONField(
        required=False,
        help_text='{"scope": "automation" | "context_key", "mode": "single" | "parallel" | '
        '"restart", "max_runs": 5}; left blank, the defaults.',
        widget=_json_textarea(4),
    )


class WebhookEndpointForm(ServiceForm):
    """The editable fields of a webhook endpoint; the secret is generated, never a field."""

    url = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"size": 80, "maxlength": 2000}),
        help_text="The http or https URL that receives the signed POSTs.",
    )
    events = JSONField(
        required=False,
        help_text='["incident.created", "incident.resolved"], or ["*"] (or blank) for every event.',
        widget=_json_textarea(3),
    )
    system_ids = JSONField(
        required=False,
        help_text='["db", "api"]: only events of these systems; blank or []: every system.',
        widget=_json_textarea(2),
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    enabled = forms.BooleanField(required=False, initial=True)
