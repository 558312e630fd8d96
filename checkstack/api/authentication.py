"""Token authentication that reads the user's permissions in the same query as the token.

DRF's ``TokenAuthentication`` reads the token with its user; the first ``has_perm`` of the
request then costs Django's ``ModelBackend`` two more queries (the user's own permissions and
their groups'). Every write endpoint checks a permission, so here the token, the user and the
names of all their permissions come back in one statement, and the names are put where
``ModelBackend`` keeps them for the request (``user._perm_cache``), which it then reads instead
of querying. Only done when the configured backends would compute exactly that set: a plain
``ModelBackend`` (or a subclass that leaves its permission lookups alone), a user model with
Django's permission relations, an active user that is not a superuser (superusers hold every
permission without a lookup).

A wrong token counts as a failed login (django-axes, per client address, as the admin login's
failures do), and a locked-out address is refused before its token is looked at.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from django.contrib.auth import get_backends, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission, PermissionsMixin
from django.db.models import Aggregate, CharField, OuterRef, Q, Subquery, TextField, Value
from django.db.models.functions import Concat
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from checkstack import login_protection

_PERMISSION_LOOKUPS = (
    "get_all_permissions",
    "get_user_permissions",
    "get_group_permissions",
    "_get_permissions",
    "_get_user_permissions",
    "_get_group_permissions",
)


class _JSONStrings(Aggregate):
    """The aggregated strings as a JSON array (PostgreSQL ``json_agg``, SQLite
    ``json_group_array``); SQL NULL when there are none on PostgreSQL. Left undecoded by the
    ORM: psycopg hands over the list, the sqlite3 module the text (see ``_names``)."""

    function = "JSON_AGG"
    output_field = TextField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra)

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSON_ARRAYAGG", **extra)


def _permission_names() -> Subquery:
    """``["app_label.codename", ...]`` of the token's user: their own permissions and their
    groups' (what ``ModelBackend.get_all_permissions`` gives a non-superuser)."""
    user = OuterRef("user_id")
    names = (
        Permission.objects.filter(Q(user=user) | Q(group__user=user))
        .order_by()
        .annotate(one=Value(1))
        .values("one")  # no GROUP BY: one aggregate over every matching permission
        .annotate(
            names=_JSONStrings(
                Concat("content_type__app_label", Value("."), "codename", output_field=CharField())
            )
        )
        .values("names")
    )
    return Subquery(names, output_field=TextField())


@functools.cache
def _prefetch_applies(backends: tuple[type[Any], ...], user_model: type[Any]) -> bool:
    """Whether ``ModelBackend`` decides permissions, with its own lookups, for ``user_model``."""
    if not issubclass(user_model, PermissionsMixin):
        return False
    return any(
        issubclass(backend, ModelBackend)
        and all(getattr(backend, n) is getattr(ModelBackend, n) for n in _PERMISSION_LOOKUPS)
        for backend in backends
    )


def _names(value: Any) -> set[str]:
    if isinstance(value, str):
        value = json.loads(value)
    return set(value or ())


def prefetches_permissions() -> bool:
    backends = tuple(type(backend) for backend in get_backends())
    return _prefetch_applies(backends, get_user_model())


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``, with the user's permissions read in the same query."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # no token offered: nothing to count
        django_request = request._request
        if login_protection.is_locked_out(django_request):
            raise exceptions.Throttled(
                wait=login_protection.retry_after(django_request),
                detail=login_protection.LOCKED_OUT,
            )
        try:
            return super().authenticate(request)  # type: ignore[no-any-return]
        except exceptions.AuthenticationFailed:
            login_protection.record_failed_credentials(django_request, sender=type(self))
            raise

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if not prefetches_permissions():
            return super().authenticate_credentials(key)  # type: ignore[no-any-return]
        model = self.get_model()
        try:
            token = (
                model.objects.select_related("user")
                .annotate(permission_names=_permission_names())
                .get(key=key)
            )
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if not user.is_superuser:
            user._perm_cache = _names(token.permission_names)
        return user, token
