"""Operators' admin of incidents, their timeline and links; every write goes through the services.

A submission is one transaction: the incident's own fields first (create or update), then the
timeline and link rows (deletions, edits, additions). A refusal by any service call rolls all of
it back and shows the form again with the service's message on the field or row concerned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as confirm_delete_selected
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.timesince import timesince

from checkstack.entities.models import Change
from checkstack.entities.registry import find_handle
from checkstack.errors import NotFound
from checkstack.service_admin import (
    REFUSABLE,
    Refusals,
    ServiceInline,
    ServiceModelAdmin,
    ServiceRefused,
    adopt,
    collect_refusal,
    refusal_errors,
)

from .. import services
from ..choices import Status
from ..entity import KIND, incident_handle
from ..forms import (
    IncidentActionForm,
    IncidentAddForm,
    IncidentForm,
    IncidentLinkForm,
    IncidentUpdateForm,
)
from ..models import Incident, IncidentLink, IncidentSystem, IncidentUpdate

CREATE_FIELDS = (
    "title",
    "severity",
    "system_ids",
    "description",
    "initial_message",
    "suppress_notifications",
    "health_override",
)
UPDATE_FIELDS = (
    "title",
    "severity",
    "system_ids",
    "description",
    "suppress_notifications",
    "health_override",
)
TIMELINE_FIELDS = ("message", "status_change", "visibility", "created_at")
LINK_FIELDS = ("label", "url", "visibility")
BULK_ORDER = ("resolved", "deleted", "unchanged", "not_found", "forbidden", "error")


def system_names(system_ids: Iterable[str]) -> dict[str, str]:
    """Catalog names of the given systems in one read, through the ``catalog-system`` entity
    (incidents know systems only by id); empty when the catalog is not installed."""
    handle = find_handle("catalog-system")
    if handle is None:
        return {}
    return {system_id: state.name for system_id, state in handle.get_many(system_ids).items()}


def system_label(system_id: str, names: dict[str, str]) -> str:
    name = names.get(system_id)
    return f"{name} ({system_id})" if name and name != system_id else system_id


def bulk_summary(verb: str, results: list[services.BulkResult]) -> tuple[str, int]:
    counts = Counter(result.status for result in results)
    parts = [
        f"{counts[status]} {status.replace('_', ' ')}" for status in BULK_ORDER if counts[status]
    ]
    failed = counts["not_found"] + counts["forbidden"] + counts["error"]
    level = messages.WARNING if failed else messages.SUCCESS
    return f"{verb} {len(results)} incident(s): {', '.join(parts)}.", level


# -- changelist ----------------------------------------------------------------------------------


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


# -- inlines -------------------------------------------------------------------------------------


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


# -- incidents -----------------------------------------------------------------------------------


@admin.register(Incident)
class IncidentAdmin(ServiceModelAdmin):
    manage_permission = "incidents.manage_incident"
    form = IncidentForm
    add_form = IncidentAddForm
    action_form = IncidentActionForm
    actions = ("resolve_selected", "delete_selected")
    list_display = ("title", "status", "severity", "system_list", "age", "updated_at")
    list_filter = ("status", "severity", SystemFilter, ActiveFilter)
    search_fields = ("title",)
    readonly_fields = ("status", "created_at", "updated_at", "resolved_at", "change_history")
    add_fieldsets = (
        (None, {"fields": ("title", "severity", "system_ids", "description", "initial_message")}),
        ("Notifications and health", {"fields": ("suppress_notifications", "health_override")}),
    )
    fieldsets = (
        (None, {"fields": ("title", "status", "severity", "system_ids", "description")}),
        ("Notifications and health", {"fields": ("suppress_notifications", "health_override")}),
        ("Dates", {"fields": ("created_at", "updated_at", "resolved_at")}),
        ("Change history", {"fields": ("change_history",), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("systems", queryset=IncidentSystem.objects.order_by("system_id"))
            )
        )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return IncidentChangeList

    def get_fieldsets(self, request: HttpRequest, obj: Incident | None = None) -> Any:
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_form(
        self, request: HttpRequest, obj: Incident | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def get_inlines(
        self, request: HttpRequest, obj: Incident | None
    ) -> list[type[InlineModelAdmin]]:
        # A new incident's first update is its initial message; the timeline follows on edit.
        if obj is None:
            return [IncidentLinkInline]
        return [IncidentUpdateInline, IncidentLinkInline]

    # -- columns and read-only fields ------------------------------------------------------------

    @admin.display(description="systems")
    def system_list(self, obj: Incident) -> str:
        ids = [s.system_id for s in obj.systems.all()]
        names = getattr(obj, "catalog_names", None)
        if names is None:  # outside the changelist, which looks them up for the whole page
            names = system_names(ids)
        return ", ".join(system_label(system_id, names) for system_id in ids)

    @admin.display(description="systems")
    def system_ids(self, obj: Incident) -> str:
        """Shown in place of the form field of that name to staff who may only view."""
        return self.system_list(obj)

    @admin.display(description="age", ordering="-created_at")
    def age(self, obj: Incident) -> str:
        return timesince(obj.created_at, depth=1)

    @admin.display(description="change log")
    def change_history(self, obj: Incident | None) -> str:
        if obj is None or obj.pk is None:
            return "-"
        changes = incident_handle().history(obj.pk).prefetch_related("trigger_events")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    change.seq,
                    formats.localize(timezone.localtime(change.occurred_at)),
                    actor_label(change.actor),
                    describe_change(change),
                    ", ".join(event.event for event in change.trigger_events.all()) or "-",
                )
                for change in changes
            ),
        )
        table = format_html(
            "<table><thead><tr><th>seq</th><th>when</th><th>actor</th><th>changes</th>"
            "<th>trigger events</th></tr></thead><tbody>{}</tbody></table>",
            rows or format_html('<tr><td colspan="5">No changes logged.</td></tr>'),
        )
        try:
            url = reverse("admin:entities_change_changelist")
        except NoReverseMatch:
            return table
        query = urlencode({"kind": KIND, "entity_id": obj.pk})
        return format_html('{}<p><a href="{}?{}">Open in the change log</a></p>', table, url, query)

    # -- writes ----------------------------------------------------------------------------------

    def save_through_services(
        self, request: HttpRequest, obj: Incident, form: Any, change: bool
    ) -> None:
        try:
            if not change:
                values = {name: form.cleaned_data[name] for name in CREATE_FIELDS}
                adopt(obj, services.create_incident(actor=request.user, **values))
                return
            values = form.changed_values(UPDATE_FIELDS)
            if values:
                adopt(obj, services.update_incident(obj.pk, actor=request.user, **values))
        except REFUSABLE as exc:
            raise ServiceRefused({"": refusal_errors(exc)}) from exc

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Deletions, then edits, then additions (so a new status-bearing update is newest)."""
        incident_id = form.instance.pk
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
                saved = self._add_row(request, incident_id, timeline, row.cleaned_data)
            except REFUSABLE as exc:
                collect_refusal(refusals, row.prefix, exc, conflict_field="url")
            else:
                formset.new_objects.append(saved)
        if refusals:
            raise ServiceRefused(refusals)

    def _add_row(
        self, request: HttpRequest, incident_id: str, timeline: bool, data: dict[str, Any]
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

    def delete_model(self, request: HttpRequest, obj: Incident) -> None:
        try:
            services.delete_incident(obj.pk, actor=request.user)
        except NotFound:
            messages.warning(request, f"Incident {obj.pk} was already deleted.")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        self._bulk_delete(request, list(queryset))

    def _bulk_delete(self, request: HttpRequest, incidents: list[Incident]) -> None:
        try:
            results = services.bulk_delete([i.pk for i in incidents], actor=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        deleted = {result.id for result in results if result.status == "deleted"}
        if deleted:
            # Logged after the fact (only what was deleted), from the rows loaded before.
            self.log_deletions(request, [i for i in incidents if i.pk in deleted])  # type: ignore[arg-type]
        self.message_user(request, *bulk_summary("Deleted", results))

    # -- actions ---------------------------------------------------------------------------------

    @admin.action(description="Resolve selected incidents", permissions=["change"])
    def resolve_selected(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        message = request.POST.get("message", "").strip() or None
        ids = list(queryset.values_list("pk", flat=True))
        try:
            results = services.bulk_resolve(ids, message=message, actor=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, *bulk_summary("Resolved", results))

    @admin.action(description="Delete selected incidents", permissions=["delete"])
    def delete_selected(
        self, request: HttpRequest, queryset: QuerySet[Incident]
    ) -> HttpResponse | None:
        """Django's confirmation page, then ``bulk_delete`` (one transaction per incident)."""
        if not request.POST.get("post"):
            return confirm_delete_selected(self, request, queryset)
        self._bulk_delete(request, list(queryset))
        return None


def blank_is_none(values: dict[str, Any]) -> dict[str, Any]:
    """Cleared text and selects mean "no value" to the services (a removed label is refused)."""
    return {name: (None if value == "" else value) for name, value in values.items()}


def actor_label(actor: dict[str, Any] | None) -> str:
    actor = actor or {}
    return str(actor.get("name") or actor.get("id") or "-")


def describe_change(change: Change) -> str:
    if change.next is None:
        return "deleted"
    prev = change.prev or {}
    parts = []
    for field in change.changed_fields:
        after = show_value(change.next.get(field))
        parts.append(
            f"{field}: {after}"
            if change.prev is None
            else f"{field}: {show_value(prev.get(field))} → {after}"
        )
    return "; ".join(parts)


def show_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return "(none)" if value is None else str(value)
