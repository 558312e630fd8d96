"""Fixtures of the subscribers tests: the catalog, captured tasks, running the workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from catalog import services as catalog
from checkstack.entities import outbox
from tests.incidents.helpers import make_systems
from tests.statuspage.subscribers.helpers import run_deliveries, send_jobs


@pytest.fixture(autouse=True)
def subscriber_settings(settings: Any) -> None:
    settings.CHECKSTACK_SITE_URL = "http://status.example.com"
    settings.CHECKSTACK_SUBSCRIBERS_RESEND_INTERVAL = 0
    settings.CHECKSTACK_STATUS_CACHE_SECONDS = 0


@pytest.fixture
def systems(db: None) -> list[str]:
    """Catalog systems ``db``, ``api`` and ``web``; group ``backend`` holds ``db`` and ``api``."""
    ids = make_systems("db", "api", "web")
    catalog.create_group(id="backend", name="Backend", system_ids=["db", "api"])
    return ids


@pytest.fixture
def jobs(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every django-q2 task enqueued, as ``(function path, argument)``; none runs."""
    settings.CHECKSTACK_ENQUEUE = True
    captured: list[tuple[str, Any]] = []
    monkeypatch.setattr(outbox, "enqueue_tasks", lambda batch: captured.extend(batch))
    return captured


@pytest.fixture
def workers(
    jobs: list[tuple[str, Any]], django_capture_on_commit_callbacks: Any
) -> Iterator[Callable[[], list[dict[str, int]]]]:
    """``workers()``: run the work queue's deliveries, then the send tasks they enqueued."""

    def run() -> list[dict[str, int]]:
        jobs.clear()
        with django_capture_on_commit_callbacks(execute=True):
            run_deliveries()
        results = send_jobs(list(jobs))
        return results

    yield run
