"""``manage.py bench_entities``: reports both writes and leaves nothing behind."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_q.models import OrmQ
from pydantic import BaseModel

from bench.management.commands import bench_entities
from checkstack.automation import registry as automation_registry
from checkstack.entities import define_entity
from checkstack.entities import registry as entity_registry
from checkstack.entities.models import Change, EntitySequence, Transition, TriggerEvent
from checkstack.errors import RegistrationError
from tests.testapp.entity import create_widget

BENCH_TABLES = ("checkstack_bench_item", "checkstack_bench_item_system")


def run_bench(**options: Any) -> str:
    out = io.StringIO()
    call_command("bench_entities", iterations=20, warmup=5, items=3, stdout=out, **options)
    return out.getvalue()


def bench_tables_left() -> set[str]:
    return set(BENCH_TABLES) & set(connection.introspection.table_names())


def bench_rows_left() -> dict[str, int]:
    return {
        "changes": Change.objects.filter(kind="bench-item").count(),
        "transitions": Transition.objects.filter(kind="bench-item").count(),
        "trigger_events": TriggerEvent.objects.filter(change__kind="bench-item").count(),
        "sequences": EntitySequence.objects.filter(kind="bench-item").count(),
    }


NOTHING_LEFT = {"changes": 0, "transitions": 0, "trigger_events": 0, "sequences": 0}


@pytest.mark.django_db(transaction=True)
def test_bench_entities_measures_both_writes_and_leaves_nothing_behind(widgets: Any) -> None:
    create_widget(widgets, "w1", tags=["db"], status="open")
    queued_before = OrmQ.objects.count()
    entities_before = entity_registry.snapshot()
    automation_before = automation_registry.snapshot()

    results = json.loads(run_bench(json=True))

    assert results["database"]["vendor"] == connection.vendor
    for key in ("plain", "entity", "entity_without_enqueue", "statements_only"):
        measurement = results[key]
        assert measurement["n"] == 20
        assert measurement["ops_per_s"] > 0
        assert 0 < measurement["p50_ms"] <= measurement["p99_ms"] <= measurement["max_ms"]
    plain, entity = results["plain"], results["entity"]
    assert plain["round_trips"] == 1
    assert plain["sql"][0].startswith("UPDATE") and "checkstack_bench_item" in plain["sql"][0]
    statements = [bench_entities.describe_sql(sql) for sql in entity["sql"]]
    for expected in (
        "UPDATE checkstack_bench_item",
        "SELECT checkstack_bench_item_system",
        "INSERT entities_entitysequence",
    ):
        assert any(expected in statement for statement in statements), (expected, statements)
    # The change and its outbox rows: one statement on PostgreSQL, one per table elsewhere.
    log_sql = " ".join(entity["sql"])
    assert "entities_change" in log_sql and "entities_triggerevent" in log_sql
    assert entity["round_trips"] == entity["statements"] + len(entity["hidden_round_trips"])
    assert entity["round_trips"] > plain["round_trips"]
    assert results["ratio"]["p50"] > 0 and results["ratio"]["ops_per_s"] > 0
    # every entity write changed a reactive field: one change and one trigger event each
    # (d) replays (b)'s statements, in (b)'s order, and commits each write as (b) did
    replayed = results["statements_only"]
    assert [bench_entities.describe_sql(sql) for sql in replayed["sql"]] == statements
    assert replayed["round_trips"] == entity["round_trips"]
    assert results["target"]["within_statements_only"] in (True, False)
    for key in ("entity", "entity_without_enqueue", "statements_only"):
        writes = results[key]["writes"]
        assert writes == 5 + 20 + 1 + results["run"]["profiled_writes"]
        assert results[key]["logged"] == {"changes": writes, "trigger_events": writes}

    assert bench_tables_left() == set()
    assert bench_rows_left() == NOTHING_LEFT
    assert OrmQ.objects.count() == queued_before  # its own queued tasks deleted, others kept
    assert Change.objects.filter(kind="widget").count() == 1
    assert TriggerEvent.objects.filter(change__kind="widget").count() == 1
    assert "bench-item" not in entity_registry.kinds()
    assert automation_registry.get_trigger("bench.item.updated") is None
    assert entity_registry.snapshot() == entities_before
    assert automation_registry.snapshot() == automation_before


@pytest.mark.django_db(transaction=True)
def test_bench_entities_prints_the_table_round_trips_and_breakdown() -> None:
    report = run_bench()

    assert f"bench_entities on {connection.vendor}" in report
    assert "(a) plain update, autocommit" in report
    assert "(b) entity write, handle.mutate" in report
    assert "ratio b/a:" in report
    assert "(d) = (b)'s statements alone, replayed" in report
    assert "ratio d/a:" in report
    assert "entities_change" in report
    assert "Python (everything else)" in report
    assert bench_tables_left() == set()


@pytest.mark.django_db(transaction=True)
def test_bench_entities_replaces_what_a_crashed_run_left() -> None:
    bench_entities.create_bench_tables()
    bench_entities.seed_items("entity", 2)

    results = json.loads(run_bench(json=True))

    assert results["entity"]["ops_per_s"] > 0
    assert bench_tables_left() == set()
    assert bench_rows_left() == NOTHING_LEFT


class OtherState(BaseModel):
    status: str


@pytest.mark.django_db(transaction=True)
def test_bench_entities_that_fails_drops_its_tables_and_restores_the_registries(
    isolated_registries: None,
) -> None:
    define_entity(kind="bench-item", state=OtherState, read=lambda ids: {})
    entities_before = entity_registry.snapshot()
    automation_before = automation_registry.snapshot()

    with pytest.raises(RegistrationError):
        run_bench()

    assert bench_tables_left() == set()
    assert automation_registry.get_trigger("bench.item.updated") is None
    assert entity_registry.snapshot() == entities_before
    assert automation_registry.snapshot() == automation_before


@pytest.mark.django_db(transaction=True)
def test_statement_replay_puts_the_database_back_and_replays_each_write_once_in_order(
    isolated_registries: None,
) -> None:
    bench_entities.drop_bench_tables()
    bench_entities.create_bench_tables()
    try:
        handle = bench_entities.register_bench_kind()
        replay = bench_entities.StatementReplay(handle, bench_entities.seed_items("replay", 2))
        replay.record(3)

        # the recorded writes are undone: no log rows, no sequence rows, severities reset
        assert bench_rows_left() == NOTHING_LEFT
        assert set(bench_entities.BenchItem.objects.values_list("severity", flat=True)) == {"major"}
        with pytest.raises(CommandError, match="out of order"):
            replay(1)
        assert bench_rows_left() == NOTHING_LEFT

        for i in range(3):
            replay(i)

        # the same changes as the recorded writes: seq 1, 2 for the first item, 1 for the other
        changes = Change.objects.filter(kind="bench-item").order_by("entity_id", "seq")
        assert [(c.entity_id, c.seq) for c in changes] == [
            ("replay-00000", 1),
            ("replay-00000", 2),
            ("replay-00001", 1),
        ]
        assert [c.next["severity"] for c in changes] == ["critical", "major", "critical"]
        assert dict(bench_entities.BenchItem.objects.values_list("id", "severity")) == {
            "replay-00000": "major",
            "replay-00001": "critical",
        }
        with pytest.raises(CommandError, match="not recorded"):
            replay(3)
    finally:
        bench_entities.purge_bench_rows()
        bench_entities.drop_bench_tables()


def peer_library_missing() -> str:
    """Why the peers' libraries (bench/requirements.txt) cannot be imported, or ""."""
    for module in ("simple_history", "pghistory", "pgtrigger"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -r bench/requirements.txt)"
    return ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(bool(peer_library_missing()), reason=peer_library_missing() or "installed")
def test_bench_entities_measures_the_peers_and_leaves_nothing_behind() -> None:
    queued_before = OrmQ.objects.count()
    tables_before = set(connection.introspection.table_names())

    results = json.loads(run_bench(json=True))

    expected = {"p1", "p2", "p3"} if connection.vendor == "postgresql" else {"p1", "p2"}
    assert set(results["peers"]) == expected
    for key, peer in results["peers"].items():
        assert peer["key"] == key and peer["n"] == 20 and peer["ops_per_s"] > 0
        # one history (or outbox) row per write, one queued task per write (deleted again)
        assert list(peer["logged"].values()) == [peer["writes"]]
        assert "INSERT django_q_ormq" in [bench_entities.describe_sql(s) for s in peer["sql"]]
        assert results["peer_ratios"][f"b/{key}"]["ops_per_s"] > 0
    assert set(results["peer_targets"]) == {"b/p1", "b/d"}
    if connection.vendor != "postgresql":
        assert "PostgreSQL only" in results["peers_skipped"]["p3"]
    assert set(connection.introspection.table_names()) == tables_before
    assert OrmQ.objects.count() == queued_before
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_proc WHERE proname LIKE %s", ["%pgtrigger%"])
            assert cursor.fetchone()[0] == 0  # the trigger's functions dropped again


@pytest.mark.django_db(transaction=True)
def test_bench_entities_leaves_out_a_peer_whose_library_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as without django-simple-history: importing the peer's module raises ImportError
    monkeypatch.setitem(sys.modules, "bench.peers.simple_history_peer", None)

    report = run_bench()

    assert "(p1) left out: django-simple-history is not installed" in report
    assert "bench/requirements.txt" in report
    assert "(p2) save() + hand-made outbox row" in report
    assert "ratio b/p2:" in report and "ratio b/p1:" not in report
    assert bench_tables_left() == set()


def test_the_apps_never_import_the_peer_libraries() -> None:
    root = Path(__file__).resolve().parents[2]
    imports = re.compile(r"^\s*(from|import)\s+(simple_history|pghistory|pgtrigger)\b", re.M)
    found = [
        str(path.relative_to(root))
        for package in ("checkstack", "catalog", "incidents", "statuspage")
        for path in (root / package).glob("**/*.py")
        if imports.search(path.read_text(encoding="utf-8"))
    ]

    assert found == []
