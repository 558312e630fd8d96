"""Catalog triggers, the ``catalog.update_metadata`` action and its artifact type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from django.core.exceptions import ValidationError
from pydantic import BaseModel, ConfigDict, Field

from checkstack.automation import (
    ActionContext,
    ActionResult,
    register_action,
    register_artifact_type,
    register_trigger,
)
from checkstack.errors import NotFound

from .services import update_system_metadata


class SystemEventPayload(BaseModel):
    systemId: str
    systemName: str | None = None
    changedFields: list[str] = Field(default_factory=list)


class GroupEventPayload(BaseModel):
    groupId: str
    groupName: str | None = None
    changedFields: list[str] = Field(default_factory=list)


class SystemRecord(BaseModel):
    systemId: str
    name: str


class UpdateMetadataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system_id: str = Field(min_length=1)
    metadata: dict[str, Any]
    mode: Literal["merge", "replace"] = "merge"


SYSTEM_TRIGGERS = (
    ("catalog.created", "System created", "A catalog system was created."),
    (
        "catalog.updated",
        "System updated",
        "A catalog system's name, description or metadata changed.",
    ),
    ("catalog.deleted", "System deleted", "A catalog system was deleted."),
)
GROUP_TRIGGERS = (
    ("catalog.group.created", "Group created", "A catalog group was created."),
    ("catalog.group.updated", "Group updated", "A catalog group or its members changed."),
    ("catalog.group.deleted", "Group deleted", "A catalog group was deleted."),
)
# Each kind's triggers, their payload and the payload field that names the entity.
TRIGGER_KINDS = (
    (SYSTEM_TRIGGERS, SystemEventPayload, "systemId"),
    (GROUP_TRIGGERS, GroupEventPayload, "groupId"),
)


def _payload_field(field: str) -> Callable[[Mapping[str, Any]], str | None]:
    return lambda payload: payload.get(field)


def run_update_metadata(ctx: ActionContext, config: UpdateMetadataConfig) -> ActionResult:
    try:
        system = update_system_metadata(
            config.system_id, config.metadata, mode=config.mode, actor=ctx.actor, run_id=ctx.run_id
        )
    except NotFound:
        return ActionResult(success=False, error=f"System {config.system_id} not found")
    except ValidationError as exc:
        return ActionResult(success=False, error="; ".join(exc.messages))
    return ActionResult(success=True, artifact={"systemId": system.pk, "name": system.name})


def register() -> None:
    for triggers, payload_schema, id_field in TRIGGER_KINDS:
        for trigger_id, name, description in triggers:
            register_trigger(
                trigger_id,
                name,
                description,
                "Catalog",
                payload_schema,
                context_key=_payload_field(id_field),
            )
    register_artifact_type(
        "catalog.system_record", "System record", "A catalog system's id and name.", SystemRecord
    )
    register_action(
        "catalog.update_metadata",
        "Update system metadata",
        "Merge into or replace a catalog system's metadata.",
        "Catalog",
        UpdateMetadataConfig,
        run_update_metadata,
        produces="catalog.system_record",
    )
