"""Catalog services: systems and groups, their validation, change log and signals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.dispatch import Signal

from catalog import services
from catalog.models import Group, System
from catalog.signals import group_changed, system_changed
from checkstack.entities.models import Change, TriggerEvent
from checkstack.errors import Conflict, NotFound

pytestmark = pytest.mark.django_db

SYSTEM_ACTOR = {"type": "system", "id": "system", "name": "System"}


def history(kind: str, entity_id: str) -> list[Change]:
    return list(Change.objects.filter(kind=kind, entity_id=entity_id).order_by("seq"))


def event_ids(kind: str, entity_id: str) -> list[str]:
    return list(
        TriggerEvent.objects.filter(change__kind=kind, change__entity_id=entity_id)
        .order_by("change__seq")
        .values_list("event", flat=True)
    )


def capture(signal: Signal) -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        kwargs.pop("signal", None)
        received.append({"sender": sender, **kwargs})

    uid = f"tests-catalog-{id(received)}"
    signal.connect(receiver, weak=False, dispatch_uid=uid)
    try:
        yield received
    finally:
        signal.disconnect(dispatch_uid=uid)


@pytest.fixture
def system_signals() -> Iterator[list[dict[str, Any]]]:
    yield from capture(system_changed)


@pytest.fixture
def group_signals() -> Iterator[list[dict[str, Any]]]:
    yield from capture(group_changed)


# -- systems --------------------------------------------------------------------------------------


def test_create_system_generates_a_uuid_id_and_logs_the_state() -> None:
    system = services.create_system(name="  Database  ", description="", metadata=None)

    assert str(uuid.UUID(system.pk)) == system.pk
    stored = System.objects.get(pk=system.pk)
    assert (stored.name, stored.description, stored.metadata) == ("Database", None, {})
    (change,) = history("catalog-system", system.pk)
    assert (change.prev, change.next) == (
        None,
        {"name": "Database", "description": None, "metadata": {}},
    )
    assert change.actor == SYSTEM_ACTOR
    assert event_ids("catalog-system", system.pk) == ["catalog.created"]


def test_create_system_with_a_slug_id_description_and_metadata() -> None:
    system = services.create_system(
        id="db-1.eu_west", name="DB", description="Primary", metadata={"tier": 1}
    )
    assert system.pk == "db-1.eu_west"
    assert history("catalog-system", "db-1.eu_west")[0].next == {
        "name": "DB",
        "description": "Primary",
        "metadata": {"tier": 1},
    }


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"name": ""}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"id": "Upper-Case"}, "id"),
        ({"id": "-starts-with-dash"}, "id"),
        ({"id": "x" * 101}, "id"),
        ({"id": "has space"}, "id"),
        ({"metadata": ["not", "an", "object"]}, "metadata"),
        ({"metadata": {"blob": "x" * (64 * 1024)}}, "metadata"),
        ({"description": 42}, "description"),
    ],
)
def test_create_system_rejects_bad_input(fields: dict[str, Any], bad_field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        services.create_system(**{"name": "ok", **fields})
    assert bad_field in exc.value.message_dict
    assert not System.objects.exists()
    assert not Change.objects.exists()


def test_metadata_of_exactly_64_kib_is_accepted() -> None:
    overhead = len('{"blob":""}')
    system = services.create_system(name="big", metadata={"blob": "x" * (64 * 1024 - overhead)})
    assert len(System.objects.get(pk=system.pk).metadata["blob"]) == 64 * 1024 - overhead


def test_create_system_with_a_taken_id_is_a_conflict() -> None:
    services.create_system(id="db", name="DB")
    with pytest.raises(Conflict):
        services.create_system(id="db", name="Other")
    assert System.objects.get(pk="db").name == "DB"
    assert len(history("catalog-system", "db")) == 1


def test_update_system_logs_only_real_changes() -> None:
    services.create_system(id="db", name="DB", description="old")

    services.update_system("db", name="Database", description="  ")
    services.update_system("db", name="Database")

    stored = System.objects.get(pk="db")
    assert (stored.name, stored.description) == ("Database", None)
    changes = history("catalog-system", "db")
    assert len(changes) == 2
    assert changes[1].changed_fields == ["description", "name"]
    assert event_ids("catalog-system", "db") == ["catalog.created", "catalog.updated"]


def test_update_system_bumps_updated_at_even_without_a_change() -> None:
    services.create_system(id="db", name="DB")
    System.objects.filter(pk="db").update(updated_at="2020-01-01T00:00:00Z")

    services.update_system("db", name="DB")

    assert System.objects.get(pk="db").updated_at.year > 2020


def test_update_system_rejects_bad_input() -> None:
    services.create_system(id="db", name="DB")
    with pytest.raises(ValidationError) as exc:
        services.update_system("db", name=" ", metadata="nope")
    assert set(exc.value.message_dict) == {"name", "metadata"}
    assert System.objects.get(pk="db").name == "DB"


def test_update_and_delete_of_unknown_system_are_not_found() -> None:
    with pytest.raises(NotFound):
        services.update_system("ghost", name="x")
    with pytest.raises(NotFound):
        services.delete_system("ghost")
    with pytest.raises(NotFound):
        services.get_system("ghost")
    assert not Change.objects.exists()


def test_update_system_metadata_merges_top_level_keys_or_replaces() -> None:
    services.create_system(id="db", name="DB", metadata={"tier": 1, "owner": "ops"})

    services.update_system_metadata("db", {"owner": "dba", "region": "eu"})
    assert System.objects.get(pk="db").metadata == {"tier": 1, "owner": "dba", "region": "eu"}

    services.update_system_metadata("db", {"region": "us"}, mode="replace")
    assert System.objects.get(pk="db").metadata == {"region": "us"}

    with pytest.raises(ValidationError):
        services.update_system_metadata("db", {}, mode="upsert")
    with pytest.raises(NotFound):
        services.update_system_metadata("ghost", {"a": 1})


def test_delete_system_tombstones_it() -> None:
    services.create_system(id="db", name="DB")

    services.delete_system("db")

    assert not System.objects.filter(pk="db").exists()
    tombstone = history("catalog-system", "db")[-1]
    assert (tombstone.seq, tombstone.next) == (2, None)
    assert tombstone.prev == {"name": "DB", "description": None, "metadata": {}}
    assert event_ids("catalog-system", "db") == ["catalog.created", "catalog.deleted"]


def test_deleting_a_system_removes_it_from_its_groups_with_a_group_change() -> None:
    for system_id in ("db", "api"):
        services.create_system(id=system_id, name=system_id)
    services.create_group(id="core", name="Core", system_ids=["db", "api"])
    services.create_group(id="data", name="Data", system_ids=["db"])
    services.create_group(id="edge", name="Edge", system_ids=["api"])

    services.delete_system("db")

    assert list(Group.objects.get(pk="core").systems.values_list("pk", flat=True)) == ["api"]
    assert not Group.objects.get(pk="data").systems.exists()
    for group_id, remaining in (("core", ["api"]), ("data", [])):
        last = history("catalog-group", group_id)[-1]
        assert (last.seq, last.changed_fields) == (2, ["systemIds"])
        assert last.next is not None and last.next["systemIds"] == remaining
        assert event_ids("catalog-group", group_id) == [
            "catalog.group.created",
            "catalog.group.updated",
        ]
    assert len(history("catalog-group", "edge")) == 1


def test_list_systems_searches_by_name() -> None:
    services.create_system(id="b", name="Billing API")
    services.create_system(id="a", name="Auth api")
    services.create_system(id="d", name="Database")

    assert [s.pk for s in services.list_systems()] == ["a", "b", "d"]
    assert [s.pk for s in services.list_systems(search=" API ")] == ["a", "b"]


# -- groups ---------------------------------------------------------------------------------------


def test_create_group_logs_sorted_members() -> None:
    for system_id in ("web", "db"):
        services.create_system(id=system_id, name=system_id)

    group = services.create_group(name="Core", system_ids=["web", "db", "web"], metadata={"a": 1})

    assert sorted(group.systems.values_list("pk", flat=True)) == ["db", "web"]
    (change,) = history("catalog-group", group.pk)
    assert change.next == {"name": "Core", "metadata": {"a": 1}, "systemIds": ["db", "web"]}
    assert event_ids("catalog-group", group.pk) == ["catalog.group.created"]


def test_group_members_must_exist() -> None:
    services.create_system(id="db", name="DB")
    with pytest.raises(ValidationError) as exc:
        services.create_group(name="Core", system_ids=["db", "nope", "gone"])
    assert exc.value.message_dict == {"system_ids": ["Unknown system ids: nope, gone."]}
    assert not Group.objects.exists()

    services.create_group(id="core", name="Core", system_ids=["db"])
    with pytest.raises(ValidationError):
        services.set_group_members("core", ["db", "nope"])
    assert list(Group.objects.get(pk="core").systems.values_list("pk", flat=True)) == ["db"]


def test_set_group_members_is_a_group_change() -> None:
    for system_id in ("db", "api", "web"):
        services.create_system(id=system_id, name=system_id)
    services.create_group(id="core", name="Core", system_ids=["db"])

    services.set_group_members("core", ["web", "api"])
    services.update_group("core", name="Core services")

    changes = history("catalog-group", "core")
    assert [c.changed_fields for c in changes[1:]] == [["systemIds"], ["name"]]
    assert changes[-1].next == {
        "name": "Core services",
        "metadata": {},
        "systemIds": ["api", "web"],
    }


def test_group_conflicts_and_not_found() -> None:
    services.create_group(id="core", name="Core")
    with pytest.raises(Conflict):
        services.create_group(id="core", name="Again")
    with pytest.raises(NotFound):
        services.update_group("ghost", name="x")
    with pytest.raises(NotFound):
        services.delete_group("ghost")
    with pytest.raises(NotFound):
        services.get_group("ghost")


def test_delete_group_tombstones_it_and_keeps_its_systems() -> None:
    services.create_system(id="db", name="DB")
    services.create_group(id="core", name="Core", system_ids=["db"])

    services.delete_group("core")

    assert not Group.objects.exists()
    assert System.objects.filter(pk="db").exists()
    assert history("catalog-group", "core")[-1].next is None
    assert event_ids("catalog-group", "core") == ["catalog.group.created", "catalog.group.deleted"]


def test_list_groups_searches_by_name() -> None:
    services.create_group(id="g1", name="Core")
    services.create_group(id="g2", name="Edge")
    assert [g.pk for g in services.list_groups(search="ed")] == ["g2"]


# -- signals ------------------------------------------------------------------------------------


def test_system_and_group_signals_are_sent_after_commit(
    system_signals: list[dict[str, Any]],
    group_signals: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.create_system(id="db", name="DB")
        services.create_group(id="core", name="Core", system_ids=["db"])
        services.update_system("db", name="Database")
        assert system_signals == [] and group_signals == []
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_system("db")

    assert [(s["sender"], s["system_id"], s["action"]) for s in system_signals] == [
        (System, "db", "created"),
        (System, "db", "updated"),
        (System, "db", "deleted"),
    ]
    assert [(s["sender"], s["group_id"], s["action"]) for s in group_signals] == [
        (Group, "core", "created"),
        (Group, "core", "updated"),
    ]
    assert {s["actor"]["type"] for s in system_signals + group_signals} == {"system"}


def test_failed_catalog_writes_send_no_signal(
    system_signals: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    services.create_system(id="db", name="DB")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(Conflict):
            services.create_system(id="db", name="Again")
        with pytest.raises(NotFound):
            services.delete_system("ghost")
    assert system_signals == []
