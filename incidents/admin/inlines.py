"""The timeline and link inlines of an incident, and how their rows are saved (services)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from checkstack.service_admin import (
    REFUSABLE,
    Refusals,
    ServiceInline,
    ServiceRefused,
    collect_refusal,
)

from .. import services
from ..forms import IncidentLinkForm, IncidentUpdateForm
from ..models import IncidentLink, IncidentUpdate

TIMELINE_FIELDS = ("message", "status_change", "visibility", "created_at")
LINK_FIELDS = ("label", "url", "visibility")


class IncidentUpdateInline(ServiceInline):
    model = IncidentUpdate
    form = IncidentUpdateForm
    verbose_name = "timeline update"
    verbose_name_plural = "timeline"
    fields = ("message", "status_change", "visibility", "created_at", "edited_at", "created_by")
    readonly_fields = ("edited_at", "created_by")
    ordering = ("created_at", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[IncidentUpdate]:
        return super().get_queryset(request).select_related("created_by")


class IncidentLinkInline(ServiceInline):
    model = IncidentLink
    form = IncidentLinkForm
    fields = ("label", "url", "visibility")
    ordering = ("created_at", "id")


def save_rows(request: HttpRequest, incident_id: str, formset: Any) -> None:
    """Deletions, then edits, then additions (so a new status-bearing update is newest)."""
    timeline = formset.model is IncidentUpdate
    refusals: Refusals = {}
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for row in formset.initial_forms:
        if formset._should_delete_form(row):
            try:
                if timeline:
                    services.delete_update(incident_id, row.instance.pk, actor=request.user)
                else:
                    services.remove_link(incident_id, row.instance.pk, actor=request.user)
            except REFUSABLE as exc:
                collect_refusal(refusals, formset.prefix, exc)
            else:
                formset.deleted_objects.append(row.instance)
    for row in formset.initial_forms:
        if formset._should_delete_form(row) or not row.has_changed():
            continue
        fields = TIMELINE_FIELDS if timeline else LINK_FIELDS
        values = row.changed_values(fields)
        if not values:
            continue
        saved: IncidentUpdate | IncidentLink
        try:
            if timeline:
                saved = services.edit_update(
                    incident_id, row.instance.pk, actor=request.user, **blank_is_none(values)
                )
            else:
                saved = services.update_link(
                    incident_id, row.instance.pk, actor=request.user, **blank_is_none(values)
                )
        except REFUSABLE as exc:
            collect_refusal(refusals, row.prefix, exc, conflict_field="url")
        else:
            formset.changed_objects.append((saved, list(values)))
    for row in formset.extra_forms:
        if formset._should_delete_form(row) or not row.has_changed():
            continue
        try:
            saved = _add_row(request, incident_id, timeline, row.cleaned_data)
        except REFUSABLE as exc:
            collect_refusal(refusals, row.prefix, exc, conflict_field="url")
        else:
            formset.new_objects.append(saved)
    if refusals:
        raise ServiceRefused(refusals)


def _add_row(
    request: HttpRequest, incident_id: str, timeline: bool, data: dict[str, Any]
) -> IncidentUpdate | IncidentLink:
    if not timeline:
        return services.add_link(
            incident_id,
            url=data["url"],
            label=data["label"] or None,
            visibility=data["visibility"],
            actor=request.user,
        )
    if data["created_at"] is not None:
        # add_update publishes now; backdating is an edit of the saved update.
        raise ValidationError(
            {"created_at": ["A new update is published now; change its time after saving."]}
        )
    return services.add_update(
        incident_id,
        message=data["message"],
        status_change=data["status_change"] or None,
        visibility=data["visibility"],
        actor=request.user,
    )


def blank_is_none(values: dict[str, Any]) -> dict[str, Any]:
    """Cleared text and selects mean "no value" to the services (a removed label is refused)."""
    return {name: (None if value == "" else value) for name, value in values.items()}
