"""``manage.py bench_scale``: reads per size, forked writers, profiles; nothing left behind."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from catalog import services as catalog_services
from checkstack.entities.models import Change
from incidents import services
from incidents.models import Incident
from tests.bench.rows import row_counts

READS = (
    "cursor",
    "cursor_system",
    "cursor_status",
    "cursor_severity",
    "cursor_search_rare",
    "cursor_search_1pct",
    "cursor_search_10pct",
    "page_count",
    "detail",
)


def run_bench(**options: Any) -> dict[str, Any]:
    out = io.StringIO()
    call_command("bench_scale", json=True, stdout=out, **options)
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


@pytest.mark.postgres
@pytest.mark.parametrize("seeding", ["copy", "orm"])
@pytest.mark.django_db(transaction=True)
def test_bench_scale_measures_sizes_and_worker_processes_and_leaves_nothing_behind(
    settings: Any, seeding: str
) -> None:
    settings.CHECKSTACK_ENQUEUE = True  # the tasks queued by the workers must be removed too
    catalog_services.create_system(id="db", name="Database")
    existing = services.create_incident(title="Not the bench's", system_ids=["db"])
    before = row_counts()

    results = run_bench(
        sizes="20,50",
        workers="1,2",
        duration=1.0,
        systems=5,
        iterations=3,
        warmup=1,
        detail_incidents=2,
        resolved_share=0.0,
        profile_requests=2,
        profile_seconds=0.2,
        seeding=seeding,
        write_incidents=30,
    )

    assert results["seeding"] == seeding
    assert [size["incidents"] for size in results["sizes"]] == [20, 50]
    for size in results["sizes"]:
        for name in READS:
            assert size[name]["n"] == 3
            assert 0 < size[name]["p50_ms"] <= size[name]["p99_ms"]
            assert size[name]["queries"] > 0
            assert 0 < size[name]["sql_share"] < 1
        assert size["detail"]["rows"] == 1
        # The unfiltered page: every incident of the run (all open), up to a page of 50.
        assert min(size["incidents"], 50) <= size["cursor"]["rows"] <= 50
        assert size["cursor_search_rare"]["rows"] <= 1
    small, large = results["sizes"]
    for name in READS:  # the query count does not grow with the rows
        assert small[name]["queries"] == large[name]["queries"]
        assert results["ratios"][name]["from"] == 20 and results["ratios"][name]["to"] == 50
        ratio = large[name]["p50_ms"] / small[name]["p50_ms"]
        assert results["ratios"][name]["ratio"] == round(ratio, 2)
    assert large["search_terms"] == {
        "rare": "0000049",
        "one_percent": "svc-42",
        "ten_percent": "svc-4",
    }
    assert large["search_matches"]["rare"] == 1

    assert [phase["workers"] for phase in results["mutations"]] == [1, 2]
    for phase in results["mutations"]:
        assert len(phase["per_worker"]) == phase["workers"]
        assert all(worker["exit_status"] == 0 for worker in phase["per_worker"])
        assert phase["errors"] == 0
        assert phase["writes"] == sum(worker["writes"] for worker in phase["per_worker"]) > 0
        assert phase["mutations_per_s"] == round(phase["writes"] / 1.0, 1)
        assert phase["changes_written"] == phase["writes"]
        assert phase["changes_match_writes"] is True
        assert phase["waits"]["samples"] > 0
        assert sum(phase["waits"]["backend_states"].values()) == pytest.approx(1.0, abs=0.01)

    for key in ("profile_list", "profile_mutations"):
        assert sum(results[key]["layers"].values()) == pytest.approx(1.0, abs=0.01)
        assert results[key]["top"]
    assert results["profile_mutations"]["writes"] > 0
    assert results["profile_list"]["layers"]["sql"] > 0
    explained = {name.split("#")[0] for name in results["explain"]}
    assert explained == set(READS) - {"detail"}
    assert all(any("Execution Time" in line for line in p) for p in results["explain"].values())
    assert not any(
        "axes_" in plan[0] or "authtoken" in plan[0] for plan in results["explain"].values()
    )

    assert results["cleanup"]["incidents"] == 50
    assert results["cleanup"]["changes"] >= 50 + 5  # the create log of incidents and systems
    assert results["cleanup"]["systems"] == 5
    assert results["cleanup"]["users"] == 1
    assert results["cleanup"]["queued_tasks"] > 0
    assert row_counts() == before
    assert Incident.objects.filter(pk=existing.pk, status="investigating").exists()
    assert Change.objects.filter(entity_id=existing.pk).count() == 1


@pytest.mark.parametrize(
    "options",
    [
        {"sizes": "50,20"},
        {"sizes": "0"},
        {"workers": "1,x"},
        {"duration": 0},
        {"systems": 1, "systems_per_incident": 2},
        {"write_incidents": 0},
    ],
)
@pytest.mark.django_db(transaction=True)
def test_bench_scale_rejects_bad_options_before_writing_anything(options: dict[str, Any]) -> None:
    before = row_counts()

    with pytest.raises(CommandError):
        call_command("bench_scale", stdout=io.StringIO(), **options)

    assert row_counts() == before


@pytest.mark.django_db(transaction=True)
def test_bench_scale_refuses_copy_seeding_off_postgresql_before_writing_anything(
    settings: Any,
) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("COPY seeding is the PostgreSQL default")
    before = row_counts()

    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("bench_scale", stdout=io.StringIO(), seeding="copy")

    assert row_counts() == before
