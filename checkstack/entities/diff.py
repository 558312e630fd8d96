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
    if prev is None:
        prev = {}
    return sorted(f for f in prev.keys() | next_.keys() if not _same(prev.get(f), next_.get(f)))


_SCALARS = (str, int, float, bool)


def _same(a: Any, b: Any) -> bool:
    """Equal as canonical JSON: ``None`` and absent keys are alike, key order does not count,
    list order does, and ``1``, ``1.0`` and ``True`` all differ."""
    if a is None or b is None:
        return a is None and b is None
    kind = type(a)
    if kind is not type(b):
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
        return False
    if kind in _SCALARS:
        return bool(a == b)
    if kind is dict:
        keys = a.keys() | b.keys()
        return all(_same(a.get(k), b.get(k)) for k in keys)
    if kind is list or kind is tuple:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return _dumps(a) == _dumps(b)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def delta_of(next_: JSONDict | None, fields: list[str]) -> JSONDict:
    """Changed fields mapped to their next value (``None`` for a dropped field)."""
    if next_ is None:
        return {}
    return {f: next_.get(f) for f in fields}
