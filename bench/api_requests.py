"""Requests of the API benchmarks (``bench_api``, ``bench_scale``): a client authenticated by
token, the checked response, the SQL queries of one request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

LIST_PATH = "/api/incidents/?page_size=50"


def token_client(token: str) -> APIClient:
    """A test client sending ``Authorization: Token <token>``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def expect(response: Any, status: int, what: str) -> Any:
    """``response``, if it has ``status``; CommandError otherwise."""
    if response.status_code != status:
        raise CommandError(f"{what}: HTTP {response.status_code}: {response.content[:300]!r}")
    return response


def queries_of(call: Callable[[], Any]) -> int:
    """SQL queries ``call`` sends (``BEGIN``, ``SAVEPOINT`` and ``COMMIT`` included)."""
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)
