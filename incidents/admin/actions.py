"""The incident changelist's actions: resolve and delete the selected incidents in bulk."""

from __future__ import annotations

from collections import Counter

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as confirm_delete_selected
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from .. import services
from ..models import Incident

BULK_ORDER = ("resolved", "deleted", "unchanged", "not_found", "forbidden", "error")


def bulk_summary(verb: str, results: list[services.BulkResult]) -> tuple[str, int]:
    counts = Counter(result.status for result in results)
    parts = [
        f"{counts[status]} {status.replace('_', ' ')}" for status in BULK_ORDER if counts[status]
    ]
    failed = counts["not_found"] + counts["forbidden"] + counts["error"]
    level = messages.WARNING if failed else messages.SUCCESS
    return f"{verb} {len(results)} incident(s): {', '.join(parts)}.", level


@admin.action(description="Resolve selected incidents", permissions=["change"])
def resolve_selected(
    modeladmin: admin.ModelAdmin[Incident], request: HttpRequest, queryset: QuerySet[Incident]
) -> None:
    message = request.POST.get("message", "").strip() or None
    ids = list(queryset.values_list("pk", flat=True))
    try:
        results = services.bulk_resolve(ids, message=message, actor=request.user)
    except ValidationError as exc:
        modeladmin.message_user(request, " ".join(exc.messages), messages.ERROR)
        return
    modeladmin.message_user(request, *bulk_summary("Resolved", results))


@admin.action(description="Delete selected incidents", permissions=["delete"])
def delete_selected(
    modeladmin: admin.ModelAdmin[Incident], request: HttpRequest, queryset: QuerySet[Incident]
) -> HttpResponse | None:
    """Django's confirmation page, then ``bulk_delete`` (one transaction per incident)."""
    if not request.POST.get("post"):
        return confirm_delete_selected(modeladmin, request, queryset)
    delete_incidents(modeladmin, request, list(queryset))
    return None


def delete_incidents(
    modeladmin: admin.ModelAdmin[Incident], request: HttpRequest, incidents: list[Incident]
) -> None:
    try:
        results = services.bulk_delete([i.pk for i in incidents], actor=request.user)
    except ValidationError as exc:
        modeladmin.message_user(request, " ".join(exc.messages), messages.ERROR)
        return
    deleted = {result.id for result in results if result.status == "deleted"}
    if deleted:
        # Logged after the fact (only what was deleted), from the rows loaded before.
        modeladmin.log_deletions(request, [i for i in incidents if i.pk in deleted])  # type: ignore[arg-type]
    modeladmin.message_user(request, *bulk_summary("Deleted", results))
