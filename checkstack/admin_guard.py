"""The base of every Checkstack model admin: changelists filter only on what they offer, and a
bad query string or action selection gets the admin's own answer instead of a 500.

Django's admin accepts any lookup on a local field in a changelist's query string. That let a
staff user with only the view permission find out hidden values one character at a time
(``?secret__startswith=whsec_a``: the webhook signing secrets, shown once at creation), and let
values Django does not check reach the database (``?occurred_at__year=9999``, ``?kind__regex=[``,
``?seq__in=<30 digits>``, an action run on ``_selected_action=nope``): each a 500.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.filters import SimpleListFilter
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import DatabaseError
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

# What may follow a field name in a changelist lookup: the ones Django's list filters and date
# hierarchy produce (``status__exact``, ``endpoint__id__exact``, ``occurred_at__gte``,
# ``occurred_at__year``, ``x__isnull``), not pattern or containment lookups.
ALLOWED_LOOKUP_PARTS = frozenset(
    {
        "exact",
        "iexact",
        "isnull",
        "in",
        "gt",
        "gte",
        "lt",
        "lte",
        "year",
        "month",
        "day",
        "id",
        "pk",
    }
)
# The range of the integer primary keys of SQLite and PostgreSQL (64-bit).
_PK_RANGE = range(-(2**63), 2**63)
# What a lookup value the database cannot take raises, while the changelist is built.
_BAD_LOOKUP_VALUE = (ValueError, OverflowError, TypeError, ValidationError, DatabaseError)


class GuardedChangeList(ChangeList):
    """A changelist whose bad lookup values are ``IncorrectLookupParameters``, which the admin
    answers with its usual redirect to ``?e=1`` (and there its "Database error" page)."""

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> Any:
        try:
            return super().get_queryset(request, exclude_parameters)
        except _BAD_LOOKUP_VALUE as exc:
            raise IncorrectLookupParameters(exc) from exc

    def get_results(self, request: HttpRequest) -> None:
        try:
            super().get_results(request)
        except _BAD_LOOKUP_VALUE as exc:  # the database refused the query the lookups made
            raise IncorrectLookupParameters(exc) from exc


class GuardedModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """See the module docstring. ``extra_lookups``: fields a changelist may also be filtered on
    from a link (besides its ``list_filter`` and ``date_hierarchy``)."""

    extra_lookups: ClassVar[tuple[str, ...]] = ()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return GuardedChangeList

    def lookup_allowed(self, lookup: str, value: Any, request: HttpRequest) -> bool:
        first, *rest = lookup.split(LOOKUP_SEP)
        offered = self._offered_lookups(request)
        if lookup in offered["parameters"]:
            return super().lookup_allowed(lookup, value, request)
        try:
            self.model._meta.get_field(first)
        except FieldDoesNotExist:  # not a field: Django reports it as an incorrect lookup
            return super().lookup_allowed(lookup, value, request)
        if first not in offered["fields"] or not ALLOWED_LOOKUP_PARTS.issuperset(rest):
            return False
        return super().lookup_allowed(lookup, value, request)

    def _offered_lookups(self, request: HttpRequest) -> dict[str, set[str]]:
        fields = {name.split(LOOKUP_SEP)[0] for name in self.extra_lookups}
        parameters: set[str] = set()
        if self.date_hierarchy:
            fields.add(self.date_hierarchy.split(LOOKUP_SEP)[0])
        for item in self.get_list_filter(request):
            if isinstance(item, type) and issubclass(item, SimpleListFilter):
                parameters.add(str(item.parameter_name))
            elif isinstance(item, (list, tuple)):
                fields.add(str(item[0]).split(LOOKUP_SEP)[0])
            else:
                fields.add(str(item).split(LOOKUP_SEP)[0])
        return {"fields": fields, "parameters": parameters}

    def response_action(
        self, request: HttpRequest, queryset: Any, *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if not all(self._is_pk(value) for value in selected):
            self.message_user(
                request,
                "The selection names items that cannot exist. No items have been changed.",
                messages.WARNING,
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset, *args, **kwargs)

    def _is_pk(self, value: str) -> bool:
        try:
            pk = self.model._meta.pk.to_python(value)  # type: ignore[union-attr]
        except (ValidationError, ValueError, TypeError):
            return False
        return not isinstance(pk, int) or pk in _PK_RANGE
