"""Fixtures of the incidents tests: catalog systems, captured ``incident_changed`` signals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from incidents.signals import incident_changed
from tests.incidents.helpers import make_systems


@pytest.fixture(autouse=True)
def no_enqueue(settings: Any) -> None:
    """After-commit callbacks must not hand outbox rows to django-q2's broker."""
    settings.CHECKSTACK_ENQUEUE = False


@pytest.fixture
def systems(db: None) -> list[str]:
    """Catalog systems ``db``, ``api`` and ``web``."""
    return make_systems("db", "api", "web")


@pytest.fixture
def sent() -> Iterator[list[dict[str, Any]]]:
    """Every ``incident_changed`` signal sent, as its keyword arguments (plus ``sender``)."""
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        kwargs.pop("signal", None)
        received.append({"sender": sender, **kwargs})

    incident_changed.connect(receiver, weak=False, dispatch_uid="tests-incidents-sent")
    try:
        yield received
    finally:
        incident_changed.disconnect(dispatch_uid="tests-incidents-sent")
