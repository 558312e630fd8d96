"""Fixtures of the automation tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core import signals
from django.db import close_old_connections
from rest_framework.test import APIClient

from tests.api.helpers import make_user


@pytest.fixture(autouse=True)
def no_enqueue(settings: Any) -> None:
    """After-commit callbacks must not hand outbox rows to django-q2's broker."""
    settings.CHECKSTACK_ENQUEUE = False


@pytest.fixture
def anon(db: None) -> APIClient:
    """A client that sends no credentials."""
    return APIClient()


@pytest.fixture
def superuser_client(db: None) -> APIClient:
    client = APIClient()
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    return client


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """Requests through the WSGI handler must not close the test's database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
