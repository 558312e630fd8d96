"""Admin of webhook endpoints (writes through the webhooks services; a new endpoint's secret
shown once, ``checkstack.one_time_secrets``) and their deliveries (a read-only log with
redeliver)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from checkstack.errors import NotFound
from checkstack.one_time_secrets import OneTimeSecretAdmin
from checkstack.service_admin import (
    REFUSABLE,
    ServiceModelAdmin,
    ServiceRefused,
    adopt,
    refusal_errors,
)

from .. import webhooks
from ..forms import WebhookEndpointForm
from ..models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from .logs import ReadOnlyLogAdmin, ReadOnlyLogInline, apply_to_each, without_log_permissions

ENDPOINT_FIELDS = ("url", "events", "system_ids", "description", "enabled")
# Shown, never edited: the engine's record of the endpoint.
ENDPOINT_STATE_FIELDS = (
    "auto_disabled",
    "disabled_at",
    "disabled_reason",
    "consecutive_failures",
    "delivery_log",
    "created_at",
    "updated_at",
)


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
class WebhookEndpointAdmin(OneTimeSecretAdmin, ServiceModelAdmin):
    """Endpoints; after an add, the new signing secret is shown once on its own page (receivers
    need it to verify signatures), never in a message cookie."""

    manage_permission = "automation.manage_automation"
    one_time_secret_label = "signing secret"
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
    fields = ("id", *ENDPOINT_FIELDS, *ENDPOINT_STATE_FIELDS)
    readonly_fields = ("id", *ENDPOINT_STATE_FIELDS)

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
