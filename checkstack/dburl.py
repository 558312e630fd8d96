"""Turn a ``DATABASE_URL`` into a Django ``DATABASES`` entry (PostgreSQL or SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

SQLITE_OPTIONS: dict[str, Any] = {
    # Every write transaction takes the write lock up front, so concurrent writers queue
    # instead of failing with "database is locked" at their first write.
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
}


def sqlite_database(path: Path | str, *, conn_max_age: int = 600) -> dict[str, Any]:
    # Persistent connections: reopening a SQLite file costs a WAL checkpoint and pragmas, and
    # django-q2's ORM broker closes non-persistent connections on every enqueue.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "CONN_MAX_AGE": conn_max_age,
        "OPTIONS": dict(SQLITE_OPTIONS),
    }


def _prepare_threshold(value: str) -> int | None:
    """psycopg's ``prepare_threshold``: after how many executions a statement run with
    server-side binding is prepared; ``none`` turns prepared statements off (needed behind a
    pooler in transaction mode, such as PgBouncer before 1.21). Django's ORM binds on the client
    and never prepares; the entity core's own statements do (``checkstack.entities.sql``)."""
    if value.strip().lower() in {"", "none", "null", "off"}:
        return None
    try:
        threshold = int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"DATABASE_URL prepare_threshold must be a number or 'none', not {value!r}"
        ) from None
    if threshold < 0:
        raise ImproperlyConfigured("DATABASE_URL prepare_threshold must not be negative")
    return threshold


def parse_database_url(url: str, *, conn_max_age: int = 600) -> dict[str, Any]:
    """``postgres://user:pass@host:port/name?opt=v`` or ``sqlite:///path/to/file``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured(f"DATABASE_URL names no database: {parts.scheme}://...")
        options: dict[str, Any] = dict(parse_qsl(parts.query))
        options["prepare_threshold"] = _prepare_threshold(options.get("prepare_threshold", "5"))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": conn_max_age,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    if scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc:  # sqlite://relative/path is a common typo for sqlite:///relative/path
            path = parts.netloc + path
        elif url.split(":", 1)[1].startswith("////"):  # sqlite:////absolute/path
            path = "/" + path.lstrip("/")
        elif path.startswith("/"):  # sqlite:///relative/path
            path = path[1:]
        return sqlite_database(path or ":memory:", conn_max_age=conn_max_age)
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parts.scheme!r} is not supported; use postgres:// or sqlite:///"
    )
