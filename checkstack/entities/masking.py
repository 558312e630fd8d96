"""Secret masking: values an automation run resolved never reach the change log.

An in-process registry maps a run id to its secret values. With a run id set, every occurrence
of a registered value of 4+ characters inside any string or object key becomes ``****``,
longest value first (so a secret that contains another is masked whole).
"""

from __future__ import annotations

import threading
from typing import Any

MASK = "****"
MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: dict[str, set[str]] = {}


def register_run_secret(run_id: str, value: str) -> None:
    """Remember ``value`` as a secret of ``run_id``; values under 4 characters are ignored."""
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.setdefault(str(run_id), set()).add(value)


def forget_run(run_id: str) -> None:
    """Drop every secret of ``run_id`` (call when the run ends)."""
    with _lock:
        _secrets.pop(str(run_id), None)


def secrets_for(run_id: str | None) -> list[str]:
    """The run's secrets, longest first."""
    if run_id is None:
        return []
    with _lock:
        values = list(_secrets.get(str(run_id), ()))
    return sorted(values, key=lambda v: (-len(v), v))


def mask_value(value: Any, secrets: list[str]) -> Any:
    """A copy of ``value`` with every secret replaced inside strings and object keys."""
    if not secrets:
        return value
    if isinstance(value, str):
        return _mask_string(value, secrets)
    if isinstance(value, dict):
        return {_mask_string(str(k), secrets): mask_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(v, secrets) for v in value]
    return value


def _mask_string(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
