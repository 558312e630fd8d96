"""The ``catalog-system`` and ``catalog-group`` entities, their derivers and payloads."""

from __future__ import annotations

from typing import Any

from django.db import connection
from pydantic import BaseModel, Field

from checkstack.entities import EntityChange, define_entity, register_change_deriver
from checkstack.entities.handle import EntityHandle
from checkstack.entities.registry import get_handle

SYSTEM_KIND = "catalog-system"
GROUP_KIND = "catalog-group"
SYSTEM_FIELDS = ("name", "description", "metadata")


class SystemState(BaseModel):
    name: str
    description: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class GroupState(BaseModel):
    name: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    systemIds: list[str] = Field(default_factory=list)


def read_systems(ids: list[str]) -> dict[str, dict[str, Any]]:
    from .models import System

    return {
        row["id"]: {
            "name": row["name"],
            "description": row["description"] or None,
            "metadata": row["metadata"] or {},
        }
        for row in System.objects.filter(pk__in=ids).values("id", "name", "description", "metadata")
    }


def lock_systems(ids: list[str]) -> None:
    """Row-lock the systems against other catalog writes.

    ``FOR NO KEY UPDATE`` does not conflict with the ``FOR KEY SHARE`` that incident creation
    takes on referenced systems; deleting (``FOR UPDATE``) does.
    """
    from .models import System

    list(
        System.objects.select_for_update(no_key=True)
        .filter(pk__in=ids)
        .values_list("pk", flat=True)
    )


def read_groups(ids: list[str]) -> dict[str, dict[str, Any]]:
    from .models import Group

    states: dict[str, dict[str, Any]] = {
        row["id"]: {"name": row["name"], "metadata": row["metadata"] or {}, "systemIds": []}
        for row in Group.objects.filter(pk__in=ids).values("id", "name", "metadata")
    }
    if states:
        members = (
            Group.systems.through.objects.filter(group_id__in=list(states))
            .order_by("system_id")
            .values_list("group_id", "system_id")
        )
        for group_id, system_id in members:
            states[group_id]["systemIds"].append(system_id)
    return states


def lock_existing_systems(ids: list[str]) -> set[str]:
    """Reference checker for incidents: existing ids, share-locked against deletes."""
    from .models import System

    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(System._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {table} WHERE id = ANY(%s) FOR KEY SHARE", [ids])
            return {row[0] for row in cursor.fetchall()}
    return set(System.objects.filter(pk__in=ids).values_list("pk", flat=True))


def _lifecycle_event(prefix: str, change: EntityChange) -> list[str]:
    """``<prefix>.created``, ``.deleted`` or ``.updated``: which side of the change is empty."""
    if change.prev is None:
        return [f"{prefix}.created"]
    if change.next is None:
        return [f"{prefix}.deleted"]
    return [f"{prefix}.updated"]


def derive_system_events(change: EntityChange) -> list[str]:
    return _lifecycle_event("catalog", change)


def system_payload(change: EntityChange) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "systemId": change.entity_id,
        "changedFields": [f for f in change.changed_fields if f in SYSTEM_FIELDS],
    }
    if change.next is not None:
        payload["systemName"] = change.next.get("name")
    return payload


def derive_group_events(change: EntityChange) -> list[str]:
    return _lifecycle_event("catalog.group", change)


def group_payload(change: EntityChange) -> dict[str, Any]:
    payload: dict[str, Any] = {"groupId": change.entity_id, "changedFields": change.changed_fields}
    if change.next is not None:
        payload["groupName"] = change.next.get("name")
    return payload


def system_handle() -> EntityHandle[SystemState]:
    return get_handle(SYSTEM_KIND)  # type: ignore[return-value]


def group_handle() -> EntityHandle[GroupState]:
    return get_handle(GROUP_KIND)  # type: ignore[return-value]


def register() -> None:
    """Define both kinds and their derivers (from ``CatalogConfig.ready``)."""
    define_entity(kind=SYSTEM_KIND, state=SystemState, read=read_systems, lock=lock_systems)
    define_entity(kind=GROUP_KIND, state=GroupState, read=read_groups)
    register_change_deriver(
        SYSTEM_KIND,
        derive_system_events,
        system_payload,
        emits=("catalog.created", "catalog.updated", "catalog.deleted"),
    )
    register_change_deriver(
        GROUP_KIND,
        derive_group_events,
        group_payload,
        emits=("catalog.group.created", "catalog.group.updated", "catalog.group.deleted"),
    )
