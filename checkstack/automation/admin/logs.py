"""Read-only logs written by the engine (runs, deliveries): their admin base, inlines,
and running a service per selected row."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from checkstack.read_only_admin import ReadOnlyInline, ReadOnlyModelAdmin
from checkstack.service_admin import (
    REFUSABLE,
)


def without_log_permissions(
    deleted: tuple[Any, Any, set[str], Any], logs: tuple[type[Model], ...]
) -> tuple[Any, Any, set[str], Any]:
    """``get_deleted_objects`` minus the permissions of the read-only logs the service deletes
    with the object (nobody holds them: runs and deliveries are never deleted by hand)."""
    objects, counts, perms_needed, protected = deleted
    names = {str(model._meta.verbose_name) for model in logs}
    return objects, counts, {p for p in perms_needed if str(p) not in names}, protected


class ReadOnlyLogAdmin(ReadOnlyModelAdmin):
    """A log written only by the engine: viewable with Django's view permission, never added,
    edited or deleted here; its actions call the services and need ``manage_permission``."""

    manage_permission = "automation.manage_automation"

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(self.manage_permission))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # PostgreSQL text cannot hold NUL: such a search matches nothing instead of failing.
        return super().get_search_results(request, queryset, search_term.replace("\x00", ""))


class ReadOnlyLogInline(ReadOnlyInline):
    """Rows of a read-only log, shown to whoever may view the parent."""

    show_change_link = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

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
