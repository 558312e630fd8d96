"""Canonical comparison of entity states: key order and ``None`` vs absent do not count."""

from __future__ import annotations

import json
from typing import Any

from .types import JSONDict


def canonical(value: Any) -> Any:
    """Drop ``None``-valued keys at every depth; lists keep their order."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"))


def changed_fields(prev: JSONDict | None, next_: JSONDict | None) -> list[str]:
    """Sorted top-level fields whose canonical values differ.

    On create only the fields that are set in ``next_`` count; on a tombstone none do.
    """
    if next_ is None:
        return []
    prev_c = canonical(prev) if prev is not None else {}
    next_c = canonical(next_)
    fields = set(prev_c) | set(next_c)
    return sorted(f for f in fields if not _same(prev_c.get(f), next_c.get(f)))


_SCALARS = (str, int, float, type(None))


def _same(a: Any, b: Any) -> bool:
    """Equal as canonical JSON (so ``1`` and ``True`` differ, and so do ``1`` and ``1.0``)."""
    if type(a) is type(b) and type(a) in _SCALARS:
        return bool(a == b)
    return _dumps(a) == _dumps(b)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def delta_of(next_: JSONDict | None, fields: list[str]) -> JSONDict:
    """Changed fields mapped to their next value (``None`` for a dropped field)."""
    if next_ is None:
        return {}
    return {f: next_.get(f) for f in fields}
