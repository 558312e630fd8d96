"""Catalog entities: derivers, payloads, the six triggers and ``catalog.update_metadata``."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from catalog import services
from catalog.entity import (
    derive_group_events,
    derive_system_events,
    group_payload,
    read_groups,
    read_systems,
    system_payload,
)
from catalog.models import System
from checkstack.automation import (
    ActionContext,
    ActionResult,
    get_action,
    get_artifact_type,
    get_trigger,
)
from checkstack.entities import EntityChange, forget_run, register_run_secret
from checkstack.entities.diff import changed_fields, delta_of
from checkstack.entities.models import Change, TriggerEvent
from checkstack.entities.registry import find_handle

SYSTEM = {"name": "DB", "description": None, "metadata": {}}
GROUP = {"name": "Core", "metadata": {}, "systemIds": ["db"]}
RUN_ACTOR = {"type": "service", "id": "automation", "name": "Automation"}


def change_of(
    kind: str,
    prev: dict[str, Any] | None,
    next_: dict[str, Any] | None,
    fields: list[str] | None = None,
) -> EntityChange:
    fields = changed_fields(prev, next_) if fields is None else fields
    return EntityChange(
        change_id=uuid.uuid4(),
        kind=kind,
        entity_id="x-1",
        seq=1,
        prev=prev,
        next=next_,
        delta=delta_of(next_, fields),
        changed_fields=fields,
        actor={"type": "system", "id": "system", "name": "System"},
        run_id=None,
        occurred_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )


def events_of(kind: str, entity_id: str) -> list[tuple[str, dict[str, Any], str | None]]:
    rows = TriggerEvent.objects.filter(change__kind=kind, change__entity_id=entity_id).order_by(
        "change__seq"
    )
    return [(row.event, row.payload, row.context_key) for row in rows]


# -- derivers and payloads --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prev", "next_", "expected"),
    [
        (None, SYSTEM, ["catalog.created"]),
        (SYSTEM, {**SYSTEM, "name": "Database"}, ["catalog.updated"]),
        (SYSTEM, {**SYSTEM, "metadata": {"a": 1}}, ["catalog.updated"]),
        (SYSTEM, None, ["catalog.deleted"]),
    ],
    ids=["create", "rename", "metadata", "tombstone"],
)
def test_system_deriver_table(
    prev: dict[str, Any] | None, next_: dict[str, Any] | None, expected: list[str]
) -> None:
    assert derive_system_events(change_of("catalog-system", prev, next_)) == expected


@pytest.mark.parametrize(
    ("prev", "next_", "expected"),
    [
        (None, GROUP, ["catalog.group.created"]),
        (GROUP, {**GROUP, "systemIds": []}, ["catalog.group.updated"]),
        (GROUP, {**GROUP, "name": "Edge"}, ["catalog.group.updated"]),
        (GROUP, None, ["catalog.group.deleted"]),
    ],
    ids=["create", "members", "rename", "tombstone"],
)
def test_group_deriver_table(
    prev: dict[str, Any] | None, next_: dict[str, Any] | None, expected: list[str]
) -> None:
    assert derive_group_events(change_of("catalog-group", prev, next_)) == expected


@pytest.mark.parametrize(
    ("prev", "next_", "fields", "expected"),
    [
        (
            None,
            {**SYSTEM, "description": "Primary"},
            None,
            {
                "systemId": "x-1",
                "systemName": "DB",
                "changedFields": ["description", "metadata", "name"],
            },
        ),
        (
            SYSTEM,
            {**SYSTEM, "name": "Database"},
            None,
            {"systemId": "x-1", "systemName": "Database", "changedFields": ["name"]},
        ),
        (
            SYSTEM,
            {**SYSTEM, "metadata": {"a": 1}},
            ["metadata", "owner", "tags"],
            {"systemId": "x-1", "systemName": "DB", "changedFields": ["metadata"]},
        ),
        (SYSTEM, None, None, {"systemId": "x-1", "changedFields": []}),
    ],
    ids=["create", "rename", "only-catalog-fields", "tombstone-has-no-name"],
)
def test_system_payload_table(
    prev: dict[str, Any] | None,
    next_: dict[str, Any] | None,
    fields: list[str] | None,
    expected: dict[str, Any],
) -> None:
    assert system_payload(change_of("catalog-system", prev, next_, fields)) == expected


@pytest.mark.parametrize(
    ("prev", "next_", "expected"),
    [
        (
            None,
            GROUP,
            {
                "groupId": "x-1",
                "groupName": "Core",
                "changedFields": ["metadata", "name", "systemIds"],
            },
        ),
        (
            GROUP,
            {**GROUP, "systemIds": []},
            {"groupId": "x-1", "groupName": "Core", "changedFields": ["systemIds"]},
        ),
        (GROUP, None, {"groupId": "x-1", "changedFields": []}),
    ],
    ids=["create", "members", "tombstone-has-no-name"],
)
def test_group_payload_table(
    prev: dict[str, Any] | None, next_: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    assert group_payload(change_of("catalog-group", prev, next_)) == expected


@pytest.mark.django_db
def test_trigger_events_of_real_writes_carry_the_ids_as_context_keys() -> None:
    services.create_system(id="db", name="DB")
    services.create_group(id="core", name="Core", system_ids=["db"])
    services.update_system("db", description="Primary")
    services.delete_system("db")

    assert events_of("catalog-system", "db") == [
        (
            "catalog.created",
            {"systemId": "db", "systemName": "DB", "changedFields": ["metadata", "name"]},
            "db",
        ),
        (
            "catalog.updated",
            {"systemId": "db", "systemName": "DB", "changedFields": ["description"]},
            "db",
        ),
        ("catalog.deleted", {"systemId": "db", "changedFields": []}, "db"),
    ]
    assert [(e, p["changedFields"], k) for e, p, k in events_of("catalog-group", "core")] == [
        ("catalog.group.created", ["metadata", "name", "systemIds"], "core"),
        ("catalog.group.updated", ["systemIds"], "core"),
    ]


SIX_TRIGGERS = [
    ("catalog.created", "systemId"),
    ("catalog.updated", "systemId"),
    ("catalog.deleted", "systemId"),
    ("catalog.group.created", "groupId"),
    ("catalog.group.updated", "groupId"),
    ("catalog.group.deleted", "groupId"),
]


@pytest.mark.parametrize(("trigger_id", "id_field"), SIX_TRIGGERS)
def test_the_six_catalog_triggers_are_registered(trigger_id: str, id_field: str) -> None:
    trigger = get_trigger(trigger_id)
    assert trigger is not None
    assert trigger.category == "Catalog"
    payload = trigger.validate_payload({id_field: "thing-7", "changedFields": ["name"]})
    assert trigger.context_key(payload) == "thing-7"


def test_both_catalog_kinds_are_defined() -> None:
    assert find_handle("catalog-system") is not None
    assert find_handle("catalog-group") is not None


@pytest.mark.django_db
def test_reads_are_batched_and_skip_missing_ids(django_assert_max_num_queries: Any) -> None:
    services.create_system(id="db", name="DB", description="", metadata={"a": 1})
    services.create_system(id="api", name="API")
    services.create_group(id="core", name="Core", system_ids=["db", "api"])
    services.create_group(id="none", name="Empty")

    with django_assert_max_num_queries(1):
        systems = read_systems(["db", "api", "ghost"])
    with django_assert_max_num_queries(2):
        groups = read_groups(["core", "none", "ghost"])

    assert systems == {
        "db": {"name": "DB", "description": None, "metadata": {"a": 1}},
        "api": {"name": "API", "description": None, "metadata": {}},
    }
    assert groups == {
        "core": {"name": "Core", "metadata": {}, "systemIds": ["api", "db"]},
        "none": {"name": "Empty", "metadata": {}, "systemIds": []},
    }


# -- catalog.update_metadata ----------------------------------------------------------------------


@pytest.fixture
def run_secret() -> Iterator[tuple[str, str]]:
    run_id = f"run-{uuid.uuid4()}"
    secret = "tok_live_93f1c2"
    register_run_secret(run_id, secret)
    try:
        yield run_id, secret
    finally:
        forget_run(run_id)


def update_metadata(config: dict[str, Any], run_id: str | None = "run-1") -> ActionResult:
    action = get_action("catalog.update_metadata")
    assert action is not None
    assert action.produces == "catalog.system_record"
    ctx = ActionContext(run_id=run_id, context_key=None, actor=RUN_ACTOR)
    return action.run(ctx, action.config_schema.model_validate(config))


@pytest.mark.django_db
def test_update_metadata_merges_by_default() -> None:
    services.create_system(id="db", name="DB", metadata={"tier": 1, "owner": "ops"})

    result = update_metadata({"system_id": "db", "metadata": {"owner": "dba"}})

    assert result == ActionResult(success=True, artifact={"systemId": "db", "name": "DB"})
    record = get_artifact_type("catalog.system_record")
    assert record is not None
    record.schema.model_validate(result.artifact)
    assert System.objects.get(pk="db").metadata == {"tier": 1, "owner": "dba"}
    last = Change.objects.filter(kind="catalog-system", entity_id="db").order_by("seq").last()
    assert last is not None
    assert (last.actor, last.run_id, last.changed_fields) == (RUN_ACTOR, "run-1", ["metadata"])


@pytest.mark.django_db
def test_update_metadata_replaces_when_asked() -> None:
    services.create_system(id="db", name="DB", metadata={"tier": 1, "owner": "ops"})

    result = update_metadata({"system_id": "db", "metadata": {"region": "eu"}, "mode": "replace"})

    assert result.success, result.error
    assert System.objects.get(pk="db").metadata == {"region": "eu"}


@pytest.mark.django_db
def test_update_metadata_of_a_vanished_system_fails_the_step() -> None:
    result = update_metadata({"system_id": "gone", "metadata": {"a": 1}})
    assert result == ActionResult(success=False, error="System gone not found")
    assert not Change.objects.exists()


def test_update_metadata_config_rejects_an_unknown_mode() -> None:
    from pydantic import ValidationError as ConfigError

    action = get_action("catalog.update_metadata")
    assert action is not None
    with pytest.raises(ConfigError):
        action.config_schema.model_validate({"system_id": "db", "metadata": {}, "mode": "upsert"})


@pytest.mark.django_db
def test_update_metadata_masks_the_runs_secrets_in_the_change_log(
    run_secret: tuple[str, str],
) -> None:
    run_id, secret = run_secret
    services.create_system(id="db", name="DB")

    result = update_metadata(
        {"system_id": "db", "metadata": {"token": secret, "url": f"https://x/?t={secret}"}},
        run_id=run_id,
    )

    assert result.success, result.error
    assert System.objects.get(pk="db").metadata == {
        "token": secret,
        "url": f"https://x/?t={secret}",
    }
    last = Change.objects.filter(kind="catalog-system", entity_id="db").order_by("seq").last()
    assert last is not None
    assert last.run_id == run_id
    assert last.next is not None
    assert last.next["metadata"] == {"token": "****", "url": "https://x/?t=****"}
    assert last.delta == {"metadata": {"token": "****", "url": "https://x/?t=****"}}
    assert secret not in str(
        list(TriggerEvent.objects.values_list("payload", flat=True))
        + list(Change.objects.values_list("prev", "next", "delta"))
    )


@pytest.mark.django_db
def test_changing_only_a_secret_under_the_same_run_logs_nothing(
    run_secret: tuple[str, str],
) -> None:
    run_id, secret = run_secret
    services.create_system(id="db", name="DB", metadata={"token": "tok_old_value"})
    register_run_secret(run_id, "tok_old_value")
    update_metadata({"system_id": "db", "metadata": {"token": secret}}, run_id=run_id)

    assert System.objects.get(pk="db").metadata == {"token": secret}
    assert Change.objects.filter(kind="catalog-system", entity_id="db").count() == 1
