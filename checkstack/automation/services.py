"""Automation services: create, update, delete and read automation definitions.

Saving validates the whole definition (shared/spec/automation.md, "Automation definition"):

- ``trigger.event`` is a registered trigger; ``trigger.filter`` (optional) compiles as a Jinja2
  sandbox expression.
- step ids are unique and match ``[a-z][a-z0-9_]*``; each step's action is registered.
- each config validates against its action's ``config_schema``. A top-level config field whose
  value holds a template (a string containing ``{{`` or ``{%``, possibly nested in a list or
  object) is checked for Jinja2 syntax only: its value is known at run time, so the schema
  errors about that field (type or "Field required") are not reported. Every other field is
  validated against the schema as given.
- a step whose action consumes an artifact type needs an earlier step producing that type, or
  a trigger whose context can supply one: a trigger supplies the artifact type named like its
  namespace (``incident.created`` / ``incident.resolved`` supply ``incident``, found from the
  runs of the same automation and context key).
- an action's save-time checks that look outside (``check_config``): a literal ``webhook.send``
  URL passes the webhook endpoints' SSRF rules (its host resolves, to public addresses only
  unless ``CHECKSTACK_WEBHOOK_ALLOW_PRIVATE``); a templated URL is checked when a run sends.

Errors are ``ValidationError`` field → messages; step messages name the step and the field.
"""

from __future__ import annotations

import re
from typing import Any

import jinja2
from django.db import transaction
from django.db.models import QuerySet
from pydantic import ValidationError as PydanticValidationError

from checkstack.actors import ActorLike
from checkstack.errors import NotFound
from checkstack.validation import (
    UNSET,
    Errors,
    clean_required_text,
)

from .models import Automation, default_concurrency
from .registry import ActionDefinition, get_action, get_trigger
from .templating import is_template, sandbox

MAX_NAME = 200
MAX_STEPS = 100
MAX_FILTER = 4000
STEP_ID = re.compile(r"[a-z][a-z0-9_]{0,99}")  # fullmatch: at most 100 characters
SCOPES = ("automation", "context_key")
MODES = ("single", "parallel", "restart")
TRIGGER_KEYS = ("event", "filter")
STEP_KEYS = ("id", "action", "config", "continue_on_error")
CONCURRENCY_KEYS = ("scope", "mode", "max_runs")

_sandbox = sandbox()


def _template_strings(value: Any) -> list[str]:
    """Every template string in ``value`` (nested lists and objects included)."""
    if is_template(value):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _template_strings(v)]
    if isinstance(value, list):
        return [t for v in value for t in _template_strings(v)]
    return []


def _syntax_error(source: str, *, expression: bool = False) -> str | None:
    """The Jinja2 syntax error of ``source`` (a template, or an expression), if any."""
    try:
        if expression:
            _sandbox.compile_expression(source)
        else:
            _sandbox.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return f"{exc.message} (line {exc.lineno})"
    except (jinja2.TemplateError, RecursionError) as exc:
        return str(exc) or type(exc).__name__
    return None


# -- validation -----------------------------------------------------------------------------


def clean_trigger(errors: Errors, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        errors.add("trigger", 'Must be a JSON object {"event": ..., "filter": ...}.')
        return {"event": "", "filter": ""}
    for key in sorted(set(value) - set(TRIGGER_KEYS)):
        errors.add("trigger", f"trigger.{key}: unknown key; use 'event' and 'filter'.")
    event = value.get("event")
    if not isinstance(event, str) or not event.strip():
        errors.add("trigger", "trigger.event: required, the id of a registered trigger.")
        event = ""
    elif get_trigger(event) is None:
        errors.add("trigger", f"trigger.event: {event!r} is not a registered trigger.")
    filter_ = value.get("filter")
    if filter_ is None:
        filter_ = ""
    if not isinstance(filter_, str):
        errors.add("trigger", "trigger.filter: must be a string (a Jinja2 expression) or null.")
        filter_ = ""
    elif len(filter_) > MAX_FILTER:
        errors.add("trigger", f"trigger.filter: at most {MAX_FILTER} characters.")
    elif filter_.strip():
        problem = _syntax_error(filter_, expression=True)
        if problem:
            errors.add("trigger", f"trigger.filter: not a valid Jinja2 expression: {problem}")
    return {"event": event, "filter": filter_.strip()}


def _config_errors(step_id: str, action: ActionDefinition, config: dict[str, Any]) -> list[str]:
    """The messages about one step's config: template syntax, then the schema."""
    messages = []
    templated = set()
    for field, value in config.items():
        templates = _template_strings(value)
        if templates:
            templated.add(field)
        for template in templates:
            problem = _syntax_error(template)
            if problem:
                messages.append(
                    f"Step {step_id!r}, config field {field!r}: "
                    f"not a valid Jinja2 template: {problem}"
                )
    concrete = {field: value for field, value in config.items() if field not in templated}
    try:
        action.config_schema.model_validate(concrete)
    except PydanticValidationError as exc:
        for error in exc.errors():
            loc = error.get("loc") or ()
            if loc and loc[0] in templated:
                continue  # known at run time only
            where = f"config field {'.'.join(str(part) for part in loc)!r}" if loc else "config"
            messages.append(f"Step {step_id!r}, {where}: {error['msg']}")
    return messages


def _supplies(trigger_event: str, artifact_type: str) -> bool:
    """Whether runs on ``trigger_event`` can find a ``artifact_type`` artifact by context key."""
    return bool(trigger_event) and trigger_event.split(".", 1)[0] == artifact_type


def _names_its_target(config: dict[str, Any], artifact_type: str) -> bool:
    """A config that gives ``<type>_id`` (``incident_id``) needs no upstream artifact."""
    value = config.get(f"{artifact_type.replace('.', '_')}_id")
    return isinstance(value, str) and bool(value.strip())


def clean_steps(errors: Errors, value: Any, trigger_event: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        errors.add("steps", "Must be a JSON list of steps.")
        return []
    if not value:
        errors.add("steps", "Give at least one step.")
    if len(value) > MAX_STEPS:
        errors.add("steps", f"Give at most {MAX_STEPS} steps.")
        return []
    steps: list[dict[str, Any]] = []
    seen: set[str] = set()
    produced: set[str] = set()
    for position, raw in enumerate(value, start=1):
        if not isinstance(raw, dict):
            errors.add("steps", f"Step {position}: must be a JSON object {{id, action, config}}.")
            continue
        step_id = raw.get("id")
        if not isinstance(step_id, str) or not STEP_ID.fullmatch(step_id):
            errors.add(
                "steps",
                f"Step {position}: id {step_id!r} must match [a-z][a-z0-9_]* "
                "(at most 100 characters).",
            )
            step_id = f"#{position}"
        elif step_id in seen:
            errors.add("steps", f"Step {step_id!r}: id is used by an earlier step.")
        seen.add(step_id)
        label = f"Step {step_id!r}"
        for key in sorted(str(k) for k in set(raw) - set(STEP_KEYS)):
            errors.add("steps", f"{label}: unknown key {key!r}; use {', '.join(STEP_KEYS)}.")
        continue_on_error = raw.get("continue_on_error", False)
        if not isinstance(continue_on_error, bool):
            errors.add("steps", f"{label}, field 'continue_on_error': must be true or false.")
        config = raw.get("config", {})
        if config is None:
            config = {}
        if not isinstance(config, dict):
            errors.add("steps", f"{label}, field 'config': must be a JSON object.")
            config = {}
        action_id = raw.get("action")
        action = get_action(action_id) if isinstance(action_id, str) else None
        if not isinstance(action_id, str) or not action_id:
            errors.add("steps", f"{label}, field 'action': required, the id of an action.")
        elif action is None:
            errors.add("steps", f"{label}: action {action_id!r} is not registered.")
        if action is not None:
            for message in _config_errors(step_id, action, config):
                errors.add("steps", message)
            for artifact_type in action.consumes:
                if _names_its_target(config, artifact_type):
                    continue
                if artifact_type not in produced and not _supplies(trigger_event, artifact_type):
                    errors.add(
                        "steps",
                        f"{label}: action {action.id!r} consumes a {artifact_type!r} artifact, "
                        "but no earlier step produces one and trigger "
                        f"{trigger_event!r} cannot supply one.",
                    )
            if action.produces:
                produced.add(action.produces)
        steps.append(
            {
                "id": step_id,
                "action": action_id,
                "config": config,
                "continue_on_error": continue_on_error,
            }
        )
    return steps


def outside_checks(steps: Any) -> list[str]:
    """The messages of the actions' save-time checks that look outside the process (a
    ``webhook.send`` URL's host and addresses, with the endpoints' SSRF rules), run on each
    step's literal config fields; templated fields are checked when a run renders them.

    Called before any lock is taken (DNS can take seconds); steps too malformed to check get
    their messages from ``clean_steps``.
    """
    if not isinstance(steps, list) or len(steps) > MAX_STEPS:
        return []
    messages = []
    for position, raw in enumerate(steps, start=1):
        if not isinstance(raw, dict) or not isinstance(raw.get("config"), dict):
            continue
        action_id = raw.get("action")
        action = get_action(action_id) if isinstance(action_id, str) else None
        if action is None or action.check_config is None:
            continue
        step_id = raw.get("id")
        if not isinstance(step_id, str) or not STEP_ID.fullmatch(step_id):
            step_id = f"#{position}"
        literal = {
            field: value for field, value in raw["config"].items() if not _template_strings(value)
        }
        for field, problem in action.check_config(literal).items():
            messages.append(f"Step {step_id!r}, config field {field!r}: {problem}")
    return messages


def clean_concurrency(errors: Errors, value: Any) -> dict[str, Any]:
    if value is None:
        return default_concurrency()
    if not isinstance(value, dict):
        errors.add("concurrency", 'Must be a JSON object {"scope", "mode", "max_runs"}.')
        return default_concurrency()
    for key in sorted(str(k) for k in set(value) - set(CONCURRENCY_KEYS)):
        errors.add("concurrency", f"concurrency.{key}: unknown key; use scope, mode, max_runs.")
    concurrency = {**default_concurrency(), **value}
    if concurrency["scope"] not in SCOPES:
        errors.add("concurrency", f"concurrency.scope: must be one of {', '.join(SCOPES)}.")
    if concurrency["mode"] not in MODES:
        errors.add("concurrency", f"concurrency.mode: must be one of {', '.join(MODES)}.")
    max_runs = concurrency["max_runs"]
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        errors.add("concurrency", "concurrency.max_runs: must be an integer of at least 1.")
    return {key: concurrency[key] for key in CONCURRENCY_KEYS}


def _clean_definition(
    fields: dict[str, Any], *, outside: list[str] | None = None
) -> dict[str, Any]:
    """Every field of an automation, validated together (steps depend on the trigger);
    ``outside``: the messages of ``outside_checks`` on the steps given."""
    errors = Errors()
    for field, value in fields.items():
        errors.unstorable(field, value)
    errors.raise_if_any()
    cleaned: dict[str, Any] = {
        "name": clean_required_text(errors, "name", fields["name"], MAX_NAME)
    }
    description = fields["description"]
    if description is None:
        description = ""
    if not isinstance(description, str):
        errors.add("description", "Must be a string.")
    cleaned["description"] = description
    if not isinstance(fields["enabled"], bool):
        errors.add("enabled", "Must be true or false.")
    cleaned["enabled"] = fields["enabled"]
    cleaned["trigger"] = clean_trigger(errors, fields["trigger"])
    cleaned["steps"] = clean_steps(errors, fields["steps"], cleaned["trigger"]["event"])
    for message in outside or ():
        errors.add("steps", message)
    cleaned["concurrency"] = clean_concurrency(errors, fields["concurrency"])
    errors.raise_if_any()
    return cleaned


# -- writes and reads -----------------------------------------------------------------------


def _definition(
    name: Any, description: Any, enabled: Any, trigger: Any, steps: Any, concurrency: Any
) -> dict[str, Any]:
    """An automation's fields by name, in the order they are validated."""
    return {
        "name": name,
        "description": description,
        "enabled": enabled,
        "trigger": trigger,
        "steps": steps,
        "concurrency": concurrency,
    }


def create_automation(
    *,
    name: str,
    trigger: dict[str, Any],
    steps: list[dict[str, Any]],
    concurrency: dict[str, Any] | None = None,
    description: str = "",
    enabled: bool = True,
    actor: ActorLike = None,
) -> Automation:
    cleaned = _clean_definition(
        _definition(name, description, enabled, trigger, steps, concurrency),
        outside=outside_checks(steps),
    )
    return Automation.objects.create(**cleaned)


def update_automation(
    automation_id: str,
    *,
    name: Any = UNSET,
    description: Any = UNSET,
    enabled: Any = UNSET,
    trigger: Any = UNSET,
    steps: Any = UNSET,
    concurrency: Any = UNSET,
    actor: ActorLike = None,
) -> Automation:
    """Change the given fields; the resulting definition is validated as a whole. The outside
    checks run on the steps only when they are given: disabling an automation whose webhook
    host stopped resolving still works."""
    changes = _definition(name, description, enabled, trigger, steps, concurrency)
    outside = [] if steps is UNSET else outside_checks(steps)
    with transaction.atomic():
        automation = Automation.objects.select_for_update().filter(pk=automation_id).first()
        if automation is None:
            raise NotFound(f"Automation {automation_id} not found")
        fields = {
            field: getattr(automation, field) if value is UNSET else value
            for field, value in changes.items()
        }
        cleaned = _clean_definition(fields, outside=outside)
        for field, value in cleaned.items():
            setattr(automation, field, value)
        automation.save()
    return automation


def delete_automation(automation_id: str, *, actor: ActorLike = None) -> None:
    deleted, _ = Automation.objects.filter(pk=automation_id).delete()
    if not deleted:
        raise NotFound(f"Automation {automation_id} not found")


def get_automation(automation_id: str) -> Automation:
    automation = Automation.objects.filter(pk=automation_id).first()
    if automation is None:
        raise NotFound(f"Automation {automation_id} not found")
    return automation


def list_automations(
    *, enabled: bool | None = None, event: str | None = None
) -> QuerySet[Automation]:
    automations = Automation.objects.order_by("name", "id")
    if enabled is not None:
        automations = automations.filter(enabled=enabled)
    if event is not None:
        automations = automations.filter(trigger__event=event)
    return automations
