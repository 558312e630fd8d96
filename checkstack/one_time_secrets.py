"""Secrets the admin shows once (a new webhook endpoint's signing secret).

Never in a message: Django's default message storage is a cookie, signed but not encrypted,
so the secret would travel in a ``Set-Cookie`` header and sit in the browser. Never in a URL
(logs, history, referrers). After the add, the secret is kept in the server-side session under
a one-time key and the browser is sent to ``<object id>/secret/``, which takes it out of the
session and shows it with ``Cache-Control: no-store``; a reload finds it gone. With a
cookie-based session engine the add response itself shows it (no redirect, no session).

It imports no models, so every app's admin can use it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieSession
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template import engines
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers

SESSION_KEY = "checkstack.one_time_secrets"

PAGE = """{% extends "admin/base_site.html" %}
{% block breadcrumbs %}<div class="breadcrumbs">
<a href="{% url 'admin:index' %}">Home</a> &rsaquo;
<a href="{{ changelist_url }}">{{ opts.verbose_name_plural|capfirst }}</a> &rsaquo;
{{ object }}</div>{% endblock %}
{% block content %}<div id="content-main">
{% if secret %}
<p>The {{ label }} of <strong>{{ object }}</strong>. Copy it now: it is not shown again.</p>
<p><code id="one-time-secret">{{ secret }}</code></p>
{% else %}
<p>The {{ label }} of <strong>{{ object }}</strong> was shown once and is not kept for showing
again. If it was lost, delete the {{ opts.verbose_name }} and add a new one.</p>
{% endif %}
<p><a href="{{ change_url }}">Continue to the {{ opts.verbose_name }}</a> &middot;
<a href="{{ changelist_url }}">All {{ opts.verbose_name_plural }}</a></p>
</div>{% endblock %}
"""


def _entry_key(obj: Any) -> str:
    return f"{obj._meta.label_lower}:{obj.pk}"


def _session_is_server_side(request: HttpRequest) -> bool:
    session = getattr(request, "session", None)
    return session is not None and not isinstance(session, CookieSession)


def keep_secret(request: HttpRequest, obj: Any, secret: str) -> None:
    """Keep ``obj``'s new secret in the (server-side) session until it is shown."""
    kept = dict(request.session.get(SESSION_KEY) or {})
    kept[_entry_key(obj)] = secret
    request.session[SESSION_KEY] = kept


def take_secret(request: HttpRequest, obj: Any) -> str | None:
    """``obj``'s kept secret, removed from the session (None: shown already, or never kept)."""
    kept = dict(request.session.get(SESSION_KEY) or {})
    secret = kept.pop(_entry_key(obj), None)
    if secret is not None:
        if kept:
            request.session[SESSION_KEY] = kept
        else:
            del request.session[SESSION_KEY]
    return secret


class OneTimeSecretAdmin(admin.ModelAdmin):
    """A model admin whose add shows the new object's ``one_time_secret_field`` once, on its
    own page, instead of in a message."""

    one_time_secret_field: ClassVar[str] = "secret"
    one_time_secret_label: ClassVar[str] = "secret"

    def _secret_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_secret"

    def get_urls(self) -> list[URLPattern]:
        secret_page = path(
            "<path:object_id>/secret/",
            self.admin_site.admin_view(self.one_time_secret_view),
            name=self._secret_url_name(),
        )
        # Before the admin's own "<object_id>/" catch-all.
        return [secret_page, *super().get_urls()]

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        response = super().response_add(request, obj, post_url_continue)
        secret = getattr(obj, self.one_time_secret_field, "")
        if not secret or not isinstance(response, HttpResponseRedirect):
            return response  # a popup closes itself; nothing to show there
        if not _session_is_server_side(request):
            return self._secret_page(request, obj, secret)
        keep_secret(request, obj, secret)
        url = reverse(f"{self.admin_site.name}:{self._secret_url_name()}", args=(quote(obj.pk),))
        return HttpResponseRedirect(url)

    def one_time_secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with id {object_id!r}.")
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return self._secret_page(request, obj, take_secret(request, obj))

    def _secret_page(self, request: HttpRequest, obj: Any, secret: str | None) -> HttpResponse:
        info = f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}"
        context = {
            **self.admin_site.each_context(request),
            "title": f"{self.one_time_secret_label.capitalize()} of {obj}",
            "opts": self.opts,
            "object": obj,
            "label": self.one_time_secret_label,
            "secret": secret,
            "change_url": reverse(f"{info}_change", args=(quote(obj.pk),)),
            "changelist_url": reverse(f"{info}_changelist"),
        }
        content = engines["django"].from_string(PAGE).render(context, request)
        # 410: the page exists, the secret on it is gone for good.
        response = HttpResponse(content, status=200 if secret else 410)
        add_never_cache_headers(response)  # no-store: no copy in any cache
        return response
