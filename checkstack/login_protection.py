"""Brute-force protection of logins: django-axes counts failed admin logins and failed API
tokens per client address and locks the address out for a cool-off period (settings
``AXES_*``; docs/operations.md, "Login protection and rate limits"). A host project without
``"axes"`` in ``INSTALLED_APPS`` has no lockout (and no axes tables to query)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle

from checkstack.refusals import refusal

LOCKED_OUT = "Too many failed login attempts from this address."
PERMANENT_LOCK_RETRY_AFTER = 3600  # no cool-off configured: an operator unlocks (axes_reset)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the API throttles see it: ``REMOTE_ADDR``, or the entry
    ``REST_FRAMEWORK["NUM_PROXIES"]`` from the end of ``X-Forwarded-For`` behind proxies.
    Anything that is not an address falls back to ``REMOTE_ADDR`` (axes stores an address)."""
    ident = BaseThrottle().get_ident(request)  # type: ignore[no-untyped-call]
    try:
        ipaddress.ip_address(ident)
    except ValueError:
        return request.META.get("REMOTE_ADDR")
    return str(ident)


def retry_after(request: HttpRequest | None = None) -> int:
    """Seconds until a locked-out address may try again (the cool-off period)."""
    from axes.helpers import get_cool_off

    cool_off = get_cool_off(request)
    if not cool_off:
        return PERMANENT_LOCK_RETRY_AFTER
    return max(int(cool_off.total_seconds()), 1)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: 429 with ``Retry-After``, JSON on API paths, a page elsewhere."""
    return refusal(
        request,
        status=429,
        title="Too many failed logins",
        detail=f"{LOCKED_OUT} Try again later.",
        retry_after=retry_after(request),
    )


def is_locked_out(request: HttpRequest) -> bool:
    if not apps.is_installed("axes") or not getattr(settings, "AXES_ENABLED", True):
        return False
    from axes.handlers.proxy import AxesProxyHandler

    return bool(AxesProxyHandler.is_locked(request, {}))


def record_failed_credentials(request: HttpRequest, *, sender: Any) -> None:
    """Count a failed non-password credential (an unknown API token) like a failed login.
    Without a username: the address is what gets locked out."""
    user_login_failed.send(sender=sender, credentials={}, request=request)
