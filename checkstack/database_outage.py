"""A database that cannot be reached (PostgreSQL down or restarting, the connection dropped)
answers 503 with ``Retry-After``: the API's JSON error body under ``/api/``, a short page
elsewhere, one WARNING line on ``checkstack.database`` and no "Internal Server Error"."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views import defaults

from checkstack.api.conf import api_settings
from checkstack.refusals import refusal

logger = logging.getLogger("checkstack.database")

UNAVAILABLE = "The database is unavailable; retry shortly."

# SQLSTATEs of a server that went away or refuses connections for now: class 08 (connection
# exception), 57P01 admin shutdown, 57P02 crash shutdown, 57P03 "the database system is
# starting up / shutting down", 53300 too many connections. A lock or statement timeout,
# a serialization failure or a deadlock (also OperationalError) is not an outage.
_OUTAGE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}
_NOT_POSTGRESQL = object()


def is_database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the PostgreSQL server is unreachable or dropped the connection."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    cause = exc.__cause__
    # psycopg 3 names it sqlstate, psycopg2 pgcode; other drivers (sqlite3) have neither.
    sqlstate = getattr(cause, "sqlstate", getattr(cause, "pgcode", _NOT_POSTGRESQL))
    if sqlstate is _NOT_POSTGRESQL:
        return False
    # No SQLSTATE: libpq's own failure, i.e. "connection refused", "server closed the
    # connection unexpectedly", "the connection is closed".
    return sqlstate is None or str(sqlstate).startswith("08") or sqlstate in _OUTAGE_SQLSTATES


def outage_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 for ``request``, logged once as a warning (Django's own 5xx log line skipped)."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    logger.warning(
        "Database unavailable, answered 503: %s %s (%s)", request.method, request.path, reason
    )
    response = refusal(
        request,
        status=503,
        title="Service unavailable",
        detail=UNAVAILABLE,
        retry_after=api_settings.RETRY_AFTER,
    )
    # django.utils.log.log_response skips a response marked so: no second line at ERROR.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class DatabaseOutageMiddleware:
    """Turns a database outage raised by a view (or while rendering its template) into the 503
    of :func:`outage_response`. Put it near the top of ``MIDDLEWARE``: Django asks the
    ``process_exception`` of later middleware first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Nothing to catch here: Django turns an exception of a later middleware into its 500
        # before it gets back to us; server_error (handler500) covers those.
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_outage(exception):
            return outage_response(request, exception)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500`` for the root URLconf: an outage raised outside any view (by a middleware
    placed after ours, e.g. a session save) gets the 503 too; anything else Django's 500."""
    exc = sys.exc_info()[1]
    if exc is not None and is_database_outage(exc):
        return outage_response(request, exc)
    return defaults.server_error(request)
