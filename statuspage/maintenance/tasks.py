"""django-q2 task entry points of the maintenance concern."""

from __future__ import annotations

from . import services


def advance() -> dict[str, list[str]]:
    """The schedule's task: start and complete what is due now."""
    advanced = services.advance_due()
    return {"started": advanced.started, "completed": advanced.completed}
