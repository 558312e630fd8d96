"""Fixtures of the REST API tests: clients for every audience, catalog systems, incidents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import signals
from django.db import close_old_connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.helpers import make_systems, make_user

MANAGE_PERMISSIONS = (("incidents", "manage_incident"), ("catalog", "manage_catalog"))


@pytest.fixture(autouse=True)
def no_enqueue(settings: Any) -> None:
    """After-commit callbacks must not hand outbox rows to django-q2's broker."""
    settings.CHECKSTACK_ENQUEUE = False


@pytest.fixture
def anon(db: None) -> APIClient:
    """A client that sends no credentials."""
    return APIClient()


@pytest.fixture
def user(db: None) -> Any:
    """A logged-in user without any permission."""
    return make_user("reader", first_name="Rita", last_name="Reader")


@pytest.fixture
def user_client(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def managers_group(db: None) -> Group:
    """A group holding both manage permissions (as ``create_operator`` sets up)."""
    group = Group.objects.create(name="Incident managers")
    for app_label, codename in MANAGE_PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return group


@pytest.fixture
def manager(managers_group: Group) -> Any:
    """A user holding the manage permissions through a group (not a superuser)."""
    user = make_user("mona", first_name="Mona", last_name="Manager")
    user.groups.add(managers_group)
    return user


@pytest.fixture
def manager_client(manager: Any) -> APIClient:
    client = APIClient()
    client.force_login(manager)
    return client


@pytest.fixture
def superuser(db: None) -> Any:
    return make_user("root", is_superuser=True, is_staff=True)


@pytest.fixture
def superuser_client(superuser: Any) -> APIClient:
    client = APIClient()
    client.force_login(superuser)
    return client


@pytest.fixture
def manager_token(manager: Any) -> str:
    return Token.objects.create(user=manager).key


@pytest.fixture
def token_client(manager_token: str) -> APIClient:
    """The manager, authenticated only by ``Authorization: Token <key>`` (no session)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {manager_token}")
    return client


@pytest.fixture
def systems(db: None) -> list[str]:
    """Catalog systems ``db``, ``api`` and ``web``."""
    return make_systems("db", "api", "web")


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """Requests through the WSGI handler must not close the test's database connection.

    Django's own test client does the same: ``close_old_connections`` would drop the connection
    that holds the test transaction (on PostgreSQL).
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
