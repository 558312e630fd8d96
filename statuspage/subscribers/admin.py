"""Admin of the subscribers concern: operators see subscribers (with their topics and how many
notifications they got) and remove them through the services; notifications are a read-only
log. Neither page shows a secret: not the webhook signing secret, not the link nonce."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from checkstack.admin_guard import GuardedModelAdmin
from checkstack.automation.admin.logs import ReadOnlyLogAdmin, without_log_permissions
from checkstack.errors import NotFound
from statuspage.models import Notification, Subscriber

from . import services

SUBSCRIBER_FIELDS = ("channel", "email", "url", "everything", "topic_list", "confirmed_at")


@admin.register(Subscriber)
class SubscriberAdmin(GuardedModelAdmin):
    list_display = (
        "address",
        "channel",
        "confirmed",
        "topic_list",
        "sent_count",
        "failed_count",
        "created_at",
    )
    list_filter = ("channel", ("confirmed_at", admin.EmptyFieldListFilter))
    search_fields = ("email", "url")
    ordering = ("-created_at", "id")
    fields = (*SUBSCRIBER_FIELDS, "sent_count", "failed_count", "created_at", "updated_at")
    readonly_fields = fields
    actions = ["delete_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscriber]:
        return services.list_subscribers()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # PostgreSQL text cannot hold NUL: such a search matches nothing instead of failing.
        return super().get_search_results(request, queryset, search_term.replace("\x00", ""))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # people subscribe themselves; managers add others through the API

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="address", ordering="email")
    def address(self, obj: Subscriber) -> str:
        return obj.address

    @admin.display(description="confirmed", boolean=True, ordering="confirmed_at")
    def confirmed(self, obj: Subscriber) -> bool:
        return obj.confirmed_at is not None

    @admin.display(description="topics")
    def topic_list(self, obj: Subscriber) -> str:
        if obj.everything:
            return "everything"
        return ", ".join(f"{t.kind} {t.target_id}" for t in obj.topics.all())

    @admin.display(description="sent", ordering="sent_count")
    def sent_count(self, obj: Any) -> int:
        return int(getattr(obj, "sent_count", 0))

    @admin.display(description="failed", ordering="failed_count")
    def failed_count(self, obj: Any) -> int:
        return int(getattr(obj, "failed_count", 0))

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Its notifications go with it (a log nobody deletes by hand).
        return without_log_permissions(super().get_deleted_objects(objs, request), (Notification,))

    def delete_model(self, request: HttpRequest, obj: Subscriber) -> None:
        try:
            services.remove_subscriber(obj.pk, actor=request.user)
        except NotFound:
            messages.warning(request, f"Subscriber {obj.address} was already removed.")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        for subscriber in queryset:
            self.delete_model(request, subscriber)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyLogAdmin):
    manage_permission = "incidents.manage_incident"
    list_display = (
        "id",
        "event",
        "subject_id",
        "subscriber",
        "status",
        "attempts",
        "sent_at",
        "created_at",
    )
    list_filter = ("status", "event")
    list_select_related = ("subscriber",)
    search_fields = ("subject_id", "event_key")
    fields = (
        "subscriber", "event", "event_key", "subject_type", "subject_id", "update_id", "status",
        "attempts", "next_attempt_at", "claimed_until", "last_error", "created_at", "sent_at",
    )  # fmt: skip
    readonly_fields = fields
