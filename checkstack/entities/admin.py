"""Read-only admin of the change log, field transitions, trigger events and deliveries."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from checkstack.read_only_admin import ReadOnlyInline, ReadOnlyModelAdmin

from . import operations
from .models import Change, Delivery, Transition, TriggerEvent


def pretty_json(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


ReadOnlyAdmin = ReadOnlyModelAdmin


class TransitionInline(ReadOnlyInline):
    model = Transition
    fields = ("field", "from_value", "to_value", "occurred_at")
    readonly_fields = fields


class TriggerEventInline(ReadOnlyInline):
    model = TriggerEvent
    fields = ("id", "event", "context_key", "created_at", "dispatched_at")
    readonly_fields = fields


@admin.register(Change)
class ChangeAdmin(ReadOnlyAdmin):
    list_display = ("kind", "entity_id", "seq", "changed_fields", "actor_label", "occurred_at")
    list_filter = ("kind",)
    search_fields = ("=kind", "=entity_id", "=change_id", "=run_id", "=request_id")
    date_hierarchy = "occurred_at"
    extra_lookups = ("entity_id",)  # the incident admin links to an incident's changes
    ordering = ("-occurred_at", "-seq")
    inlines = (TransitionInline, TriggerEventInline)
    fields = (
        "change_id",
        "kind",
        "entity_id",
        "seq",
        "occurred_at",
        "actor",
        "run_id",
        "request_id",
        "changed_fields",
        "delta_pretty",
        "prev_pretty",
        "next_pretty",
    )
    readonly_fields = fields

    @admin.display(description="actor")
    def actor_label(self, obj: Change) -> str:
        actor = obj.actor or {}
        return str(actor.get("name") or actor.get("id") or "")

    @admin.display(description="delta")
    def delta_pretty(self, obj: Change) -> str:
        return pretty_json(obj.delta)

    @admin.display(description="prev")
    def prev_pretty(self, obj: Change) -> str:
        return pretty_json(obj.prev)

    @admin.display(description="next")
    def next_pretty(self, obj: Change) -> str:
        return pretty_json(obj.next)


@admin.register(Transition)
class TransitionAdmin(ReadOnlyAdmin):
    list_display = ("kind", "entity_id", "field", "from_value", "to_value", "occurred_at")
    list_filter = ("kind", "field")
    search_fields = ("=kind", "=entity_id", "=field")
    ordering = ("-occurred_at", "-id")
    list_select_related = ("change",)


@admin.register(TriggerEvent)
class TriggerEventAdmin(ReadOnlyAdmin):
    list_display = ("event", "context_key", "created_at", "dispatched_at")
    list_filter = ("event",)
    search_fields = ("=event", "=context_key", "=id", "=change__entity_id", "=change__kind")
    ordering = ("-created_at",)
    fields = (
        "id",
        "event",
        "context_key",
        "change",
        "actor",
        "created_at",
        "dispatched_at",
        "payload_pretty",
    )
    readonly_fields = fields

    @admin.display(description="payload")
    def payload_pretty(self, obj: TriggerEvent) -> str:
        return pretty_json(obj.payload)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    actions = ("retry_now", "mark_dead")
    list_display = (
        "group",
        "kind",
        "entity_id",
        "seq",
        "status",
        "attempts",
        "next_attempt_at",
        "finished_at",
    )
    list_filter = ("status", "group", "kind")
    search_fields = ("=group", "=kind", "=entity_id", "=change__change_id")
    ordering = ("-created_at",)
    readonly_fields = (
        "change",
        "group",
        "kind",
        "entity_id",
        "seq",
        "status",
        "attempts",
        "max_attempts",
        "last_error",
        "created_at",
        "next_attempt_at",
        "finished_at",
    )

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("entities.change_delivery")

    @admin.action(description="Retry selected deliveries now", permissions=["operate"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = operations.retry_now(queryset.values_list("pk", flat=True))
        self.message_user(
            request, f"{count} deliveries queued for a new attempt.", messages.SUCCESS
        )

    @admin.action(description="Mark selected deliveries dead", permissions=["operate"])
    def mark_dead(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = operations.mark_dead(queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} pending deliveries marked dead.", messages.WARNING)
