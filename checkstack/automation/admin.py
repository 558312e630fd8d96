"""Admin of automations, runs and webhooks; every write goes through the automation services
(``services``, ``runs``, ``webhooks``); runs and deliveries are read-only logs with actions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from checkstack.admin_guard import GuardedModelAdmin
from checkstack.errors import NotFound
from checkstack.service_admin import (
    REFUSABLE,
    ServiceModelAdmin,
    ServiceRefused,
    adopt,
    refusal_errors,
)

from . import runs, services, webhooks
from .forms import AutomationForm, WebhookEndpointForm
from .models import (
    Automation,
    AutomationRun,
    RunArtifact,
    RunStep,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

AUTOMATION_FIELDS = ("name", "description", "enabled", "trigger", "steps", "concurrency")


def without_log_permissions(
    deleted: tuple[Any, Any, set[str], Any], logs: tuple[type[Model], ...]
) -> tuple[Any, Any, set[str], Any]:
    """``get_deleted_objects`` minus the permissions of the read-only logs the service deletes
    with the object (nobody holds them: runs and deliveries are never deleted by hand)."""
    objects, counts, perms_needed, protected = deleted
    names = {str(model._meta.verbose_name) for model in logs}
    return objects, counts, {p for p in perms_needed if str(p) not in names}, protected


@admin.register(Automation)
class AutomationAdmin(ServiceModelAdmin):
    manage_permission = "automation.manage_automation"
    form = AutomationForm
    list_display = ("name", "event", "enabled", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("name", "id")
    ordering = ("name", "id")
    fields = ("id", *AUTOMATION_FIELDS, "created_at", "updated_at")
    readonly_fields = ("id", "created_at", "updated_at")

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted = super().get_deleted_objects(objs, request)
        return without_log_permissions(deleted, (AutomationRun,))

    @admin.display(description="trigger event")
    def event(self, obj: Automation) -> str:
        return str((obj.trigger or {}).get("event", ""))

    def save_through_services(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        try:
            if change:
                values = form.changed_values(AUTOMATION_FIELDS)
                saved = (
                    services.update_automation(obj.pk, actor=request.user, **values)
                    if values
                    else obj
                )
            else:
                saved = services.create_automation(
                    actor=request.user,
                    **{name: form.cleaned_data[name] for name in AUTOMATION_FIELDS},
                )
        except REFUSABLE as exc:
            raise ServiceRefused({"": refusal_errors(exc)}) from exc
        adopt(obj, saved)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        try:
            services.delete_automation(obj.pk, actor=request.user)
        except NotFound:
            messages.warning(request, f"Automation {obj.pk} was already deleted.")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


# -- read-only logs ---------------------------------------------------------------------------


class ReadOnlyLogAdmin(GuardedModelAdmin):
    """A log written only by the engine: viewable with Django's view permission, never added,
    edited or deleted here; its actions call the services and need ``manage_permission``."""

    manage_permission = "automation.manage_automation"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(self.manage_permission))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # PostgreSQL text cannot hold NUL: such a search matches nothing instead of failing.
        return super().get_search_results(request, queryset, search_term.replace("\x00", ""))


class ReadOnlyLogInline(admin.TabularInline):
    """Rows of a read-only log, shown to whoever may view the parent."""

    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        parent = self.admin_site.get_model_admin(self.parent_model)
        return parent.has_view_permission(request, obj)


def apply_to_each(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    items: Iterable[Any],
    call: Callable[[Any], str],
    refused_as: Callable[[Any, Exception], str] = lambda item, exc: str(exc),
) -> None:
    """Run a service ``call`` per selected object (it returns the success message); one admin
    message per object: the successes, then the refusals (Conflict, NotFound, validation) as
    warnings."""
    done: list[str] = []
    refused: list[str] = []
    for item in items:
        try:
            done.append(call(item))
        except REFUSABLE as exc:
            refused.append(refused_as(item, exc))
    for message in done:
        model_admin.message_user(request, message, messages.SUCCESS)
    for message in refused:
        model_admin.message_user(request, message, messages.WARNING)


# -- runs -------------------------------------------------------------------------------------


class RunStepInline(ReadOnlyLogInline):
    model = RunStep
    fields = (
        "position",
        "step_id",
        "action",
        "status",
        "attempts",
        "result",
        "error",
        "started_at",
        "finished_at",
    )


class RunArtifactInline(ReadOnlyLogInline):
    model = RunArtifact
    fields = ("step_id", "type", "external_id", "data", "created_at")


@admin.register(AutomationRun)
class AutomationRunAdmin(ReadOnlyLogAdmin):
    list_display = (
        "id",
        "automation",
        "event",
        "context_key",
        "status",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "automation")
    list_select_related = ("automation",)
    search_fields = ("id", "context_key")
    ordering = ("-created_at", "id")
    actions = ("cancel_selected",)
    inlines = (RunStepInline, RunArtifactInline)
    fields = (
        "id",
        "automation",
        "event",
        "context_key",
        "trigger_event_id",
        "status",
        "error",
        "payload",
        "actor",
        "step_index",
        "wait_event",
        "wait_context_key",
        "wait_until",
        "created_at",
        "updated_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields

    @admin.action(description="Cancel selected runs", permissions=["manage"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[AutomationRun]) -> None:
        def cancel(run_id: Any) -> str:
            runs.cancel_run(run_id, actor=request.user)
            return f"Run {run_id} cancelled."

        apply_to_each(self, request, queryset.values_list("pk", flat=True), cancel)


# -- webhooks ---------------------------------------------------------------------------------

ENDPOINT_FIELDS = ("url", "events", "system_ids", "description", "enabled")


class AutoDisabledFilter(admin.SimpleListFilter):
    title = "auto-disabled"
    parameter_name = "auto_disabled"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]
    ) -> QuerySet[WebhookEndpoint]:
        if self.value() == "yes":
            return queryset.filter(disabled_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(disabled_at__isnull=True)
        return queryset


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceModelAdmin):
    manage_permission = "automation.manage_automation"
    form = WebhookEndpointForm
    actions = ("send_test_ping", "delete_selected")
    list_display = (
        "url",
        "enabled",
        "auto_disabled",
        "consecutive_failures",
        "description",
        "updated_at",
    )
    list_filter = ("enabled", AutoDisabledFilter)
    search_fields = ("url", "description")
    ordering = ("created_at", "id")
    add_fields = ENDPOINT_FIELDS
    fields = (
        "id",
        *ENDPOINT_FIELDS,
        "auto_disabled",
        "disabled_at",
        "disabled_reason",
        "consecutive_failures",
        "delivery_log",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "id",
        "auto_disabled",
        "disabled_at",
        "disabled_reason",
        "consecutive_failures",
        "delivery_log",
        "created_at",
        "updated_at",
    )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fields if obj is None else self.fields

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted = super().get_deleted_objects(objs, request)
        return without_log_permissions(deleted, (WebhookDelivery,))

    @admin.display(boolean=True, description="auto-disabled")
    def auto_disabled(self, obj: WebhookEndpoint) -> bool:
        """Disabled by the delivery worker after too many consecutive failures."""
        return obj.disabled_at is not None

    @admin.display(description="deliveries")
    def delivery_log(self, obj: WebhookEndpoint | None) -> str:
        if obj is None or obj.pk is None:
            return "-"
        try:
            url = reverse("admin:automation_webhookdelivery_changelist")
        except NoReverseMatch:
            return "-"
        return format_html(
            '<a href="{}?endpoint__id__exact={}">Deliveries and attempts</a>', url, obj.pk
        )

    def save_through_services(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        try:
            if change:
                values = form.changed_values(ENDPOINT_FIELDS)
                saved = (
                    webhooks.update_endpoint(str(obj.pk), actor=request.user, **values)
                    if values
                    else obj
                )
            else:
                # Blank JSON fields are None: every event, every system (the services' default).
                values = {name: form.cleaned_data[name] for name in ENDPOINT_FIELDS}
                saved = webhooks.create_endpoint(actor=request.user, **values)
        except REFUSABLE as exc:
            raise ServiceRefused({"": refusal_errors(exc)}) from exc
        adopt(obj, saved)
        if not change:
            # The only time the secret is displayed: receivers need it to verify signatures.
            self.message_user(
                request,
                f"Signing secret of {saved.url} (copy it now, it is not shown again): "
                f"{saved.secret}",
                messages.WARNING,
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        try:
            webhooks.delete_endpoint(str(obj.pk), actor=request.user)
        except NotFound:
            messages.warning(request, f"Webhook endpoint {obj.pk} was already deleted.")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return self.can_manage(request)

    @admin.action(description="Send test ping", permissions=["manage"])
    def send_test_ping(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        def ping(endpoint: WebhookEndpoint) -> str:
            delivery = webhooks.ping(str(endpoint.pk), actor=request.user)
            return f"Test ping {delivery.message_id} queued for {endpoint.url}."

        apply_to_each(
            self,
            request,
            queryset,
            ping,
            lambda endpoint, exc: f"{endpoint.url}: {' '.join(refusal_messages(exc))}",
        )


def refusal_messages(exc: Exception) -> list[str]:
    return [message for messages_ in refusal_errors(exc).values() for message in messages_]


class WebhookAttemptInline(ReadOnlyLogInline):
    model = WebhookAttempt
    fields = (
        "number",
        "outcome",
        "status_code",
        "duration_ms",
        "error",
        "response_excerpt",
        "created_at",
    )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyLogAdmin):
    list_display = (
        "id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "endpoint")
    list_select_related = ("endpoint",)
    search_fields = ("message_id", "event_type")
    ordering = ("-id",)
    actions = ("redeliver_selected",)
    inlines = (WebhookAttemptInline,)
    fields = (
        "id",
        "message_id",
        "endpoint",
        "event_type",
        "trigger_event_id",
        "ordering_key",
        "status",
        "attempts",
        "max_attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "data",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields

    @admin.action(description="Redeliver", permissions=["manage"])
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        def redeliver(delivery_id: Any) -> str:
            delivery = webhooks.redeliver(delivery_id, actor=request.user)
            return f"Delivery {delivery.pk} ({delivery.message_id}) queued again."

        apply_to_each(self, request, queryset.values_list("pk", flat=True), redeliver)
