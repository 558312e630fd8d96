"""Automation: triggers, actions and artifact types (registries), automations, runs, webhooks."""

from .registry import (
    ActionContext,
    ActionDefinition,
    ActionResult,
    ArtifactTypeDefinition,
    TriggerDefinition,
    get_action,
    get_artifact_type,
    get_trigger,
    list_actions,
    list_artifact_types,
    list_triggers,
    register_action,
    register_artifact_type,
    register_trigger,
)

__all__ = [
    "ActionContext",
    "ActionDefinition",
    "ActionResult",
    "ArtifactTypeDefinition",
    "TriggerDefinition",
    "get_action",
    "get_artifact_type",
    "get_trigger",
    "list_actions",
    "list_artifact_types",
    "list_triggers",
    "register_action",
    "register_artifact_type",
    "register_trigger",
]
