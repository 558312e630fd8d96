"""The rendered-page cache: one entry per page and audience, dropped by ``invalidate()``.

Entries are stored with the version they were rendered at; ``invalidate()`` sets a new version,
so every entry rendered before it no longer matches. A read asks the cache for the version and
the entry in one round trip (``get_many``): a warm read is one cache call and, with the
database cache backend, one query. The version is read before rendering, so a change committed
during a render makes that entry stale at once rather than hiding the change.

A rendered page contains the CSRF token of whoever rendered it; it is cached with a
placeholder instead, and each response gets the token of its own reader.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

from django.core.cache import BaseCache, caches
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone

from .conf import page_settings

PREFIX = "checkstack:statuspage"
VERSION_KEY = f"{PREFIX}:version"
# Rendered in place of the CSRF token (``{% csrf_token %}`` takes the context's value).
CSRF_PLACEHOLDER = "checkstackcsrfplaceholder0000000000000000000000000000000000000000"


@dataclasses.dataclass(frozen=True)
class Rendered:
    """What a page view renders: the body, its content type and status code."""

    body: str
    content_type: str = "text/html; charset=utf-8"
    status: int = 200


def page_cache() -> BaseCache:
    return caches[page_settings.CACHE_ALIAS]


def invalidate(*args: Any, **kwargs: Any) -> None:
    """Make every cached page stale. Takes and ignores any arguments, so it can be connected
    to entity changes and signals as it is."""
    page_cache().set(VERSION_KEY, uuid.uuid4().hex, None)


def cached_response(request: HttpRequest, key: str, render: Callable[[], Rendered]) -> HttpResponse:
    """The page ``key`` (its audience and arguments) from the cache, or ``render()``ed and
    kept for ``CACHE_SECONDS`` when it is a 200."""
    seconds = page_settings.CACHE_SECONDS
    if seconds <= 0:
        return respond(request, render())
    cache = page_cache()
    # Today's date is part of every key: the history strips move on at midnight.
    entry_key = f"{PREFIX}:{timezone.localdate().isoformat()}:{key}"
    found = cache.get_many([VERSION_KEY, entry_key])
    version = found.get(VERSION_KEY)
    entry = found.get(entry_key)
    if version is not None and entry is not None and entry[0] == version:
        return respond(request, entry[1])
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY)
    rendered = render()
    if rendered.status == 200:
        cache.set(entry_key, (version, rendered), seconds)
    return respond(request, rendered)


def respond(request: HttpRequest, rendered: Rendered) -> HttpResponse:
    body = rendered.body
    if CSRF_PLACEHOLDER in body:
        body = body.replace(CSRF_PLACEHOLDER, get_token(request))
    return HttpResponse(body, content_type=rendered.content_type, status=rendered.status)
