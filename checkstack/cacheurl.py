"""Turn a ``CACHE_URL`` into a Django ``CACHES`` entry.

Every process of one installation (web servers and django-q2 workers) must share the cache:
the status page is invalidated in the process that made a change, and throttling counts
requests across processes. So the default project never uses Django's per-process memory
cache; it uses a file-based cache under ``var/`` (shared by the processes of one machine)
unless ``CACHE_URL`` names another backend:

- ``redis://host:6379/0`` or ``rediss://...``: Django's Redis cache (many machines);
- ``db://table_name``: Django's database cache (run ``manage.py createcachetable`` once);
- ``file:///absolute/path``: a file-based cache in that directory (one machine);
- ``locmem://``: per-process memory (only for a single process, e.g. tests).

``CHECKSTACK_REDIS_URL`` (django-q2's Redis broker, see ``redis_url``) is the cache as well
when ``CACHE_URL`` is unset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

FILE_CACHE = "django.core.cache.backends.filebased.FileBasedCache"
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"
LOCMEM_CACHE = "django.core.cache.backends.locmem.LocMemCache"

# Django's default of 300 entries culls a third of the cache at every overflow; a status
# page alone keeps an entry per page, audience and argument.
FILE_CACHE_OPTIONS = {"MAX_ENTRIES": 5000}


def file_cache(directory: Path | str) -> dict[str, Any]:
    return {"BACKEND": FILE_CACHE, "LOCATION": str(directory), "OPTIONS": dict(FILE_CACHE_OPTIONS)}


def redis_url(value: str, *, setting: str) -> str:
    """``value`` stripped, or ImproperlyConfigured naming ``setting`` unless it is empty or a
    redis://host..., rediss://host... or unix:///path URL (what redis-py's ``from_url`` reads)."""
    url = value.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"redis", "rediss", "unix"}:
        # The scheme only: the rest of the URL may hold a password.
        raise ImproperlyConfigured(
            f"{setting}: use redis://, rediss:// or unix://, not {scheme or '(none)'}://"
        )
    if scheme != "unix" and not parts.hostname:
        raise ImproperlyConfigured(f"{setting}: a {scheme}:// URL needs a host")
    return url


def redis_cache(url: str) -> dict[str, Any]:
    return {"BACKEND": REDIS_CACHE, "LOCATION": url}


def parse_cache_url(url: str) -> dict[str, Any]:
    """One ``CACHES`` entry for ``url`` (see the module docstring for the schemes)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme in {"redis", "rediss"}:
        if not parts.hostname:
            raise ImproperlyConfigured("CACHE_URL: a redis:// URL needs a host")
        return redis_cache(url.strip())
    if scheme == "db":
        table = unquote(parts.netloc or parts.path.lstrip("/"))
        if not table.replace("_", "").isalnum():
            raise ImproperlyConfigured(
                f"CACHE_URL: db:// needs a table name of letters, digits and _, not {table!r}"
            )
        return {"BACKEND": DATABASE_CACHE, "LOCATION": table}
    if scheme == "file":
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/"):
            raise ImproperlyConfigured(
                "CACHE_URL: file:// needs an absolute path, e.g. file:///var/cache/checkstack"
            )
        return file_cache(path)
    if scheme == "locmem":
        return {"BACKEND": LOCMEM_CACHE, "LOCATION": unquote(parts.netloc or "checkstack")}
    raise ImproperlyConfigured(
        # The scheme only: the rest of the URL may hold a password.
        f"CACHE_URL: use redis://, rediss://, db://, file:// or locmem://, not {scheme or '(none)'}://"
    )
