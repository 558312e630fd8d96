"""``bench.stats``: nearest-rank percentiles and the latency summary on known samples."""

from __future__ import annotations

import pytest

from bench.stats import (
    from_seconds,
    latency_summary,
    median,
    ops_per_second,
    percentile,
    rate,
    timed,
)

MS = 1_000_000  # nanoseconds


def test_percentile_is_the_nearest_rank_in_milliseconds() -> None:
    samples = [n * MS for n in range(1, 101)]  # 1 .. 100 ms

    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile(samples, 100) == 100.0
    assert percentile(samples, 0) == 1.0  # rank 1 at least


def test_percentile_of_few_samples_takes_the_next_rank_up() -> None:
    samples = [10 * MS, 20 * MS, 30 * MS, 40 * MS]

    assert percentile(samples, 50) == 20.0  # ceil(0.5 * 4) = 2
    assert percentile(samples, 51) == 30.0
    assert percentile(samples, 99) == 40.0
    assert percentile([7 * MS], 99) == 7.0


def test_percentile_of_no_samples_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_median_sorts_its_samples() -> None:
    assert median([30 * MS, 10 * MS, 20 * MS]) == 20.0


def test_latency_summary_of_unsorted_samples() -> None:
    samples = [3 * MS, 1 * MS, 2 * MS, 4 * MS, 1_500_000]

    assert latency_summary(samples) == {
        "n": 5,
        "mean_ms": 2.3,
        "p50_ms": 2.0,
        "p99_ms": 4.0,
        "min_ms": 1.0,
        "max_ms": 4.0,
    }


def test_latency_summary_rounds_to_the_digits_asked_for() -> None:
    samples = [1_234_567, 2_345_678]

    assert latency_summary(samples, digits=2)["max_ms"] == 2.35
    assert latency_summary(samples, digits=4)["max_ms"] == 2.3457
    assert latency_summary(samples, digits=4)["mean_ms"] == 1.7901


def test_from_seconds_gives_nanoseconds() -> None:
    assert from_seconds([0.001, 0.0255]) == [1_000_000, 25_500_000]
    assert latency_summary(from_seconds([0.1, 0.2]), digits=2)["p99_ms"] == 200.0


def test_ops_per_second_of_back_to_back_operations() -> None:
    assert ops_per_second([2 * MS] * 10) == pytest.approx(500.0)
    assert ops_per_second([1 * MS, 3 * MS]) == pytest.approx(500.0)
    with pytest.raises(ValueError):
        ops_per_second([])


def test_rate_is_per_second_to_one_decimal() -> None:
    assert rate(20, 3.0) == 6.7
    assert rate(2000, 0.5) == 4000.0


def test_timed_returns_the_duration_and_the_result() -> None:
    ns, result = timed(lambda: "done")

    assert result == "done"
    assert ns >= 0
