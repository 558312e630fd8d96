"""Ids in batches small enough for one ``IN (...)`` on every database."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

# SQLite binds at most 999 parameters per statement in older builds.
CHUNK = 500


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, in order."""
    batch = list(items)
    for start in range(0, len(batch), size):
        yield batch[start : start + size]
