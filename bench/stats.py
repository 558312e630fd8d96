"""Statistics of the benchmarks' timings: nearest-rank percentiles, latency summaries, rates.

Samples are integer nanoseconds (``time.perf_counter_ns()`` differences); figures are given in
milliseconds. ``from_seconds`` converts the float seconds of wall-clock timings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def from_seconds(seconds: Iterable[float]) -> list[int]:
    """Durations in seconds as nanosecond samples."""
    return [round(s * 1e9) for s in seconds]


def percentile(sorted_ns: Sequence[int], pct: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in milliseconds."""
    if not sorted_ns:
        raise ValueError("no samples")
    rank = max(1, math.ceil(pct / 100 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


def median(samples_ns: Iterable[int]) -> float:
    """The p50 (nearest rank) of unsorted nanosecond samples, in milliseconds."""
    return percentile(sorted(samples_ns), 50)


def latency_summary(samples_ns: Iterable[int], *, digits: int = 3) -> dict[str, Any]:
    """``n`` and mean, p50, p99, min and max in milliseconds, rounded to ``digits``."""
    ordered = sorted(samples_ns)
    if not ordered:
        raise ValueError("no samples")
    return {
        "n": len(ordered),
        "mean_ms": round(sum(ordered) / len(ordered) / 1e6, digits),
        "p50_ms": round(percentile(ordered, 50), digits),
        "p99_ms": round(percentile(ordered, 99), digits),
        "min_ms": round(ordered[0] / 1e6, digits),
        "max_ms": round(ordered[-1] / 1e6, digits),
    }


def ops_per_second(samples_ns: Sequence[int]) -> float:
    """Operations per second of back-to-back operations that took ``samples_ns`` each."""
    total = sum(samples_ns)
    if total <= 0:
        raise ValueError("no time measured")
    return len(samples_ns) / (total / 1e9)


def rate(count: int, seconds: float) -> float:
    """``count`` per second over ``seconds``, to one decimal."""
    return round(count / seconds, 1)


def timed(call: Callable[[], T]) -> tuple[int, T]:
    """Run ``call``; the nanoseconds it took and its result."""
    t0 = time.perf_counter_ns()
    result = call()
    return time.perf_counter_ns() - t0, result
