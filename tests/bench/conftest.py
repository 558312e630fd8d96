"""Fixtures of the benchmark command tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import make_systems


@pytest.fixture
def no_enqueue(settings: Any) -> None:
    """After-commit callbacks must not hand outbox rows to django-q2's broker (a command that
    needs them turns enqueueing on for its own run)."""
    settings.CHECKSTACK_ENQUEUE = False


@pytest.fixture
def systems(db: None) -> list[str]:
    """Catalog systems ``db``, ``api`` and ``web``."""
    return make_systems("db", "api", "web")
