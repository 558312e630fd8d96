"""Fixtures of the public page tests: the REST API tests' clients and systems, a fresh page
cache per test, and a clock the writes can be sent back in time with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from django.core.cache import caches

from checkstack.entities.models import Change
from tests.api.conftest import (  # noqa: F401
    anon,
    manager,
    manager_client,
    managers_group,
    no_enqueue,
    systems,
    user,
    user_client,
)


@pytest.fixture(autouse=True)
def fresh_page_cache(settings: Any) -> Iterator[None]:
    """Every test starts with an empty cache of its own (the page caches by default)."""
    settings.CACHES = {
        **settings.CACHES,
        "statuspage-tests": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "statuspage-tests",
        },
    }
    settings.CHECKSTACK_STATUS_CACHE_ALIAS = "statuspage-tests"
    caches["statuspage-tests"].clear()
    yield
    caches["statuspage-tests"].clear()


Clock = Callable[[dt.datetime], AbstractContextManager[None]]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """``with clock(moment):`` writes inside happen at ``moment``, their change log too (on
    PostgreSQL the entity layer takes the time from the database: the new rows are moved)."""

    @contextmanager
    def at(moment: dt.datetime) -> Iterator[None]:
        before = set(Change.objects.values_list("pk", flat=True))
        with monkeypatch.context() as patched:
            patched.setattr("django.utils.timezone.now", lambda: moment)
            yield
        Change.objects.exclude(pk__in=before).update(occurred_at=moment)

    return at
