"""``manage.py bench_api``: measures every request on small numbers and leaves nothing behind."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from checkstack.entities.models import Change
from incidents.models import Incident
from tests.api.helpers import make_incident
from tests.bench.rows import row_counts

# As in the API tests: no enqueueing unless a test turns it on.
pytestmark = pytest.mark.usefixtures("no_enqueue")

MEASURED = ("list", "raw", "detail", "create", "resolve", "create_resolve")


def run_bench(**options: Any) -> dict[str, Any]:
    out = io.StringIO()
    call_command(
        "bench_api",
        incidents=12,
        systems_per_incident=2,
        systems=5,
        iterations=4,
        warmup=1,
        detail_incidents=2,
        json=True,
        stdout=out,
        **options,
    )
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


@pytest.mark.django_db(transaction=True)
def test_bench_api_measures_every_request_and_leaves_nothing_behind(
    systems: list[str], settings: Any
) -> None:
    settings.CHECKSTACK_ENQUEUE = True  # the queued tasks of the run must be removed too
    existing = make_incident(("db",), title="Not the bench's")
    before = row_counts()

    results = run_bench(resolved_share=0.0)

    for key in MEASURED:
        assert results[key]["n"] == 4
        assert 0 < results[key]["p50_ms"] <= results[key]["p99_ms"]
        assert results[key]["queries"] > 0
    assert results["create_resolve"]["queries"] == (
        results["create"]["queries"] + results["resolve"]["queries"]
    )
    assert results["ratio"]["list_p50_over_raw_p50"] > 0
    assert results["ratio"]["target"] == 2.5
    assert results["database"]["vendor"] in {"sqlite", "postgresql"}
    assert results["parameters"]["incidents"] == 12
    # 12 seeded + 1 counted + 1 warm-up + 4 measured creates
    assert results["cleanup"]["incidents"] == 18
    assert results["cleanup"]["systems"] == 5
    assert results["cleanup"]["users"] == 1
    assert results["cleanup"]["queued_tasks"] > 0
    assert row_counts() == before
    assert Incident.objects.filter(pk=existing.pk).exists()
    assert Change.objects.filter(entity_id=existing.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_bench_api_prints_a_report(systems: list[str]) -> None:
    out = io.StringIO()

    call_command(
        "bench_api",
        incidents=6,
        systems_per_incident=1,
        systems=3,
        iterations=2,
        warmup=0,
        detail_incidents=1,
        resolved_share=0.0,
        stdout=out,
    )

    report = out.getvalue()
    assert "GET /api/incidents/?page_size=50" in report
    assert "POST /api/incidents/{id}/resolve/" in report
    assert "list p50 / raw p50 =" in report
    assert not Incident.objects.filter(title__startswith="Bench").exists()


@pytest.mark.django_db(transaction=True)
def test_bench_api_prints_the_report_with_markdown_tables(systems: list[str]) -> None:
    out = io.StringIO()

    call_command(
        "bench_api",
        incidents=4,
        systems_per_incident=1,
        systems=2,
        iterations=1,
        warmup=0,
        detail_incidents=1,
        resolved_share=0.0,
        markdown=True,
        stdout=out,
    )

    lines = out.getvalue().splitlines()
    assert "| request | p50 ms | p99 ms | queries |" in lines
    assert "|:---|---:|---:|---:|" in lines
    assert any(line.startswith("| GET /api/incidents/?page_size=50 | ") for line in lines)
    assert any(line.startswith("Benchmark cleanup: ") for line in lines)


@pytest.mark.django_db(transaction=True)
def test_bench_api_cleans_up_when_setup_fails(systems: list[str]) -> None:
    before = row_counts()

    with pytest.raises(CommandError, match="no open incident"):
        run_bench(resolved_share=1.0)

    assert row_counts() == before


@pytest.mark.parametrize(
    "options",
    [
        {"iterations": 0},
        {"incidents": 0},
        {"warmup": -1},
        {"systems": 1, "systems_per_incident": 2},
    ],
)
@pytest.mark.django_db(transaction=True)
def test_bench_api_rejects_bad_options(options: dict[str, Any]) -> None:
    before = row_counts()
    arguments = {"incidents": 3, "systems": 3, "systems_per_incident": 1, **options}

    with pytest.raises(CommandError):
        call_command("bench_api", stdout=io.StringIO(), **arguments)

    assert row_counts() == before
