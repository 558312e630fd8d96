"""Process-wide registries of triggers, actions and artifact types.

Apps fill them in ``AppConfig.ready()``; they need no database. Every schema is a pydantic
model, so the API can publish its JSON Schema and the engine can validate against it.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from checkstack.errors import RegistrationError, TriggerPayloadInvalid

QUALIFIED_ID = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")
SIMPLE_ID = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$")


@dataclasses.dataclass(frozen=True)
class TriggerDefinition:
    id: str
    display_name: str
    description: str
    category: str
    payload_schema: type[BaseModel]
    context_key: Callable[[Mapping[str, Any]], str | None]

    def validate_payload(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The payload as JSON data, validated; fields the payload leaves out stay absent."""
        try:
            model = self.payload_schema.model_validate(
                payload if type(payload) is dict else dict(payload)
            )
        except ValidationError as exc:
            raise TriggerPayloadInvalid(
                f"Payload of trigger {self.id!r} is invalid: {exc}"
            ) from exc
        return model.model_dump(mode="json", exclude_unset=True)


@dataclasses.dataclass(frozen=True)
class ArtifactTypeDefinition:
    id: str
    display_name: str
    description: str
    schema: type[BaseModel]


@dataclasses.dataclass(frozen=True)
class ActionResult:
    success: bool
    artifact: dict[str, Any] | None = None
    external_id: str | None = None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class ActionContext:
    """What an action sees of the run that calls it."""

    run_id: str | None
    context_key: str | None
    actor: dict[str, Any]
    step_id: str | None = None
    consumed_artifacts: Mapping[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    logger: logging.Logger = dataclasses.field(
        default_factory=lambda: logging.getLogger("checkstack.automation.actions")
    )

    def latest_artifact(self, type_id: str) -> dict[str, Any] | None:
        artifacts = self.consumed_artifacts.get(type_id) or []
        return artifacts[0] if artifacts else None


@dataclasses.dataclass(frozen=True)
class ActionDefinition:
    id: str
    display_name: str
    description: str
    category: str
    config_schema: type[BaseModel]
    run: Callable[[ActionContext, BaseModel], ActionResult]
    produces: str | None = None
    consumes: tuple[str, ...] = ()
    # False for actions with effects outside the database (HTTP calls): the engine then runs
    # them outside the step's transaction, at least once, instead of exactly once.
    transactional: bool = True
    # Save-time checks the schema cannot make because they look outside (a webhook URL's DNS):
    # given the config's literal (non-template) fields, returns field -> problem. Called by the
    # services before any lock is taken; templated fields are checked when a run renders them.
    check_config: Callable[[Mapping[str, Any]], dict[str, str]] | None = None


_triggers: dict[str, TriggerDefinition] = {}
_actions: dict[str, ActionDefinition] = {}
_artifact_types: dict[str, ArtifactTypeDefinition] = {}


def _check_id(what: str, id_: str, taken: Mapping[str, object], *, qualified: bool = True) -> None:
    pattern = QUALIFIED_ID if qualified else SIMPLE_ID
    if not isinstance(id_, str) or not pattern.match(id_):
        example = "'incident.created'" if qualified else "'incident'"
        raise RegistrationError(f"{what} id {id_!r} must be lower case, like {example}")
    if id_ in taken:
        raise RegistrationError(f"{what} {id_!r} is already registered")


def _check_schema(what: str, id_: str, schema: object) -> None:
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise RegistrationError(f"{what} {id_!r}: schema must be a pydantic model class")


def register_trigger(
    id: str,
    display_name: str,
    description: str,
    category: str,
    payload_schema: type[BaseModel],
    context_key: Callable[[Mapping[str, Any]], str | None] | None = None,
) -> TriggerDefinition:
    _check_id("Trigger", id, _triggers)
    _check_schema("Trigger", id, payload_schema)
    if context_key is not None and not callable(context_key):
        raise RegistrationError(f"Trigger {id!r}: context_key must be callable")
    definition = TriggerDefinition(
        id, display_name, description, category, payload_schema, context_key or (lambda p: None)
    )
    _triggers[id] = definition
    return definition


def register_action(
    id: str,
    display_name: str,
    description: str,
    category: str,
    config_schema: type[BaseModel],
    run: Callable[[ActionContext, Any], ActionResult],
    produces: str | None = None,
    consumes: Iterable[str] = (),
    transactional: bool = True,
    check_config: Callable[[Mapping[str, Any]], dict[str, str]] | None = None,
) -> ActionDefinition:
    _check_id("Action", id, _actions)
    _check_schema("Action", id, config_schema)
    if not callable(run):
        raise RegistrationError(f"Action {id!r}: run must be callable")
    definition = ActionDefinition(
        id,
        display_name,
        description,
        category,
        config_schema,
        run,
        produces,
        tuple(consumes),
        transactional,
        check_config,
    )
    _actions[id] = definition
    return definition


def register_artifact_type(
    id: str, display_name: str, description: str, schema: type[BaseModel]
) -> ArtifactTypeDefinition:
    _check_id("Artifact type", id, _artifact_types, qualified=False)
    _check_schema("Artifact type", id, schema)
    definition = ArtifactTypeDefinition(id, display_name, description, schema)
    _artifact_types[id] = definition
    return definition


def get_trigger(id: str) -> TriggerDefinition | None:
    return _triggers.get(id)


def get_action(id: str) -> ActionDefinition | None:
    return _actions.get(id)


def get_artifact_type(id: str) -> ArtifactTypeDefinition | None:
    return _artifact_types.get(id)


def list_triggers() -> list[TriggerDefinition]:
    return sorted(_triggers.values(), key=lambda t: t.id)


def list_actions() -> list[ActionDefinition]:
    return sorted(_actions.values(), key=lambda a: a.id)


def list_artifact_types() -> list[ArtifactTypeDefinition]:
    return sorted(_artifact_types.values(), key=lambda a: a.id)


def snapshot() -> tuple[dict[str, Any], ...]:
    """Copies of the registries, for tests that register temporary entries."""
    return dict(_triggers), dict(_actions), dict(_artifact_types)


def restore(state: tuple[dict[str, Any], ...]) -> None:
    registries: tuple[dict[str, Any], ...] = (_triggers, _actions, _artifact_types)
    for registry, saved in zip(registries, state, strict=True):
        registry.clear()
        registry.update(saved)
