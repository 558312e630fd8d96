"""Per-context facts of the entity layer: the request id of the current request (recorded on
the changes it causes), and whether the code runs inside a django-q2 worker's task."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

current_request_id: ContextVar[str | None] = ContextVar("checkstack_request_id", default=None)

_in_worker_task: ContextVar[bool] = ContextVar("checkstack_in_worker_task", default=False)


@contextlib.contextmanager
def worker_task() -> Iterator[None]:
    """Mark the block as a worker's task (``checkstack.entities.tasks``): work it hands on may
    be executed in this process right away (the automation dispatcher's one queue hop) instead
    of only being enqueued, as it would be from a web request or an inline sweep."""
    token = _in_worker_task.set(True)
    try:
        yield
    finally:
        _in_worker_task.reset(token)


def in_worker_task() -> bool:
    return _in_worker_task.get()
