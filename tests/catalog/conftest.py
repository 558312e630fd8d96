"""Fixtures of the catalog tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def no_enqueue(settings: Any) -> None:
    """After-commit callbacks must not hand outbox rows to django-q2's broker."""
    settings.CHECKSTACK_ENQUEUE = False
