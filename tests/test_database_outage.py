"""A database outage raised in a view, an API view or another middleware answers 503 with
``Retry-After`` and one warning (any database: the outage is a patched cursor raising what
psycopg raises; tests/reliability/test_database_outage_pg.py restarts a real server)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, InterfaceError, OperationalError
from django.db.backends.utils import CursorWrapper
from django.http import HttpRequest, HttpResponse
from django.test import Client

import checkstack.urls
from checkstack.database_outage import UNAVAILABLE, is_database_outage

CONNECTION_DROPPED = "consuming input failed: server closed the connection unexpectedly"


def wrapped(django_class: type[Exception], cause: BaseException) -> Exception:
    """``django_class`` raised from ``cause``, as Django's ``DatabaseErrorWrapper`` does."""
    try:
        raise django_class(str(cause)) from cause
    except django_class as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "outage"),
    [
        (wrapped(OperationalError, psycopg.OperationalError(CONNECTION_DROPPED)), True),
        (wrapped(OperationalError, psycopg.OperationalError("Connection refused")), True),
        (wrapped(InterfaceError, psycopg.InterfaceError("the connection is closed")), True),
        (wrapped(OperationalError, psycopg.errors.AdminShutdown("terminating connection")), True),
        (wrapped(OperationalError, psycopg.errors.CannotConnectNow("starting up")), True),
        (wrapped(OperationalError, psycopg.errors.TooManyConnections("too many clients")), True),
        (wrapped(OperationalError, psycopg.errors.ConnectionFailure("08006")), True),
        # Not an outage: a lock or statement timeout, a serialization failure, SQLite's lock,
        # and the errors that are bugs or bad input.
        (wrapped(OperationalError, psycopg.errors.LockNotAvailable("lock timeout")), False),
        (wrapped(OperationalError, psycopg.errors.QueryCanceled("statement timeout")), False),
        (wrapped(OperationalError, psycopg.errors.SerializationFailure("retry")), False),
        (wrapped(OperationalError, sqlite3.OperationalError("database is locked")), False),
        (wrapped(IntegrityError, psycopg.errors.UniqueViolation("duplicate key")), False),
        (OperationalError("raised without a driver error"), False),
        (ConnectionError("not a database error"), False),
    ],
)
def test_only_an_unreachable_server_or_a_dropped_connection_is_an_outage(
    exc: BaseException, outage: bool
) -> None:
    assert is_database_outage(exc) is outage


def failing_query(cause: BaseException) -> Callable[..., Any]:
    def execute(*args: Any, **kwargs: Any) -> Any:
        raise wrapped(OperationalError, cause)

    return execute


@contextmanager
def database_down(cause: BaseException | None = None) -> Iterator[None]:
    cause = cause or psycopg.OperationalError(CONNECTION_DROPPED)
    with (
        mock.patch.object(CursorWrapper, "execute", failing_query(cause)),
        mock.patch.object(CursorWrapper, "executemany", failing_query(cause)),
    ):
        yield


def assert_logged_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert [(r.name, r.levelno) for r in caplog.records] == [
        ("checkstack.database", logging.WARNING)
    ]
    assert caplog.records[0].exc_info is None  # one line, no traceback
    assert "answered 503" in caplog.records[0].getMessage()


@pytest.mark.django_db
def test_an_api_request_gets_json_503_with_retry_after(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with database_down():
        response = client.get("/api/incidents/")

    assert response.status_code == 503
    assert response.json() == {"detail": UNAVAILABLE}
    assert response["Retry-After"] == "2"
    assert response["Cache-Control"] == "no-store"
    assert_logged_one_warning(caplog)


@pytest.mark.django_db
def test_an_api_write_gets_503_and_retry_after_follows_the_setting(
    client: Client, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    settings.CHECKSTACK_RETRY_AFTER = 7
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    caplog.set_level(logging.INFO)
    with database_down(psycopg.errors.AdminShutdown("terminating connection")):
        response = client.post(
            "/api/incidents/",
            {"title": "Down", "severity": "critical", "system_ids": ["db"]},
            content_type="application/json",
        )

    assert response.status_code == 503
    assert response.json() == {"detail": UNAVAILABLE}
    assert response["Retry-After"] == "7"
    assert_logged_one_warning(caplog)


@pytest.mark.django_db
def test_an_admin_page_gets_a_short_503_page(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    caplog.set_level(logging.INFO)
    with database_down():  # the session is read from the database inside the admin view
        response = client.get("/admin/")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<h1>Service unavailable</h1>" in page and UNAVAILABLE in page
    assert len(page) < 1000
    assert response["Retry-After"] == "2"
    assert_logged_one_warning(caplog)


@pytest.mark.django_db
def test_another_operational_error_is_still_an_error(client: Client) -> None:
    with (
        database_down(psycopg.errors.QueryCanceled("statement timeout")),
        pytest.raises(OperationalError),
    ):
        client.get("/api/incidents/")


class SessionTouchingMiddleware:
    """A middleware after ours that touches the database itself (outside any view)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raise wrapped(OperationalError, psycopg.OperationalError(CONNECTION_DROPPED))


def test_an_outage_in_a_later_middleware_gets_the_503_from_handler500(
    caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    """The default project's ``handler500`` (checkstack/urls.py) answers it."""
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        f"{SessionTouchingMiddleware.__module__}.SessionTouchingMiddleware",
    ]
    assert checkstack.urls.handler500 == "checkstack.database_outage.server_error"
    caplog.set_level(logging.INFO)

    response = Client(raise_request_exception=False).get("/admin/")

    assert response.status_code == 503
    assert "<h1>Service unavailable</h1>" in response.content.decode()
    assert_logged_one_warning(caplog)


def test_the_middleware_is_installed_near_the_top() -> None:
    assert settings.MIDDLEWARE.index("checkstack.database_outage.DatabaseOutageMiddleware") <= 1
