"""The request id of the current request, recorded on the changes it causes."""

from __future__ import annotations

from contextvars import ContextVar

current_request_id: ContextVar[str | None] = ContextVar("checkstack_request_id", default=None)
