"""What the subscribers concern registers in ``AppConfig.ready()`` (no database access)."""

from __future__ import annotations

from django.apps import AppConfig


def register(app: AppConfig) -> None:
    """Nothing yet."""
