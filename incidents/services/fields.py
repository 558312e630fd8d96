"""Validation of an incident's own fields, shared by creating and updating an incident."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from checkstack import references
from checkstack.validation import Errors, clean_choice, clean_id_list

from ..choices import HealthOverride, Visibility

MAX_TITLE = 200


def clean_system_ids(errors: Errors, system_ids: Any) -> list[str]:
    ids = clean_id_list(errors, "system_ids", system_ids, min_items=1)
    return sorted(ids)


def check_systems_exist(system_ids: list[str]) -> None:
    """Inside the write transaction: unknown ids → 400; known ones stay locked against deletes."""
    missing = references.lock_and_find_missing("system", system_ids)
    if missing:
        raise ValidationError({"system_ids": [f"Unknown system ids: {', '.join(missing)}."]})


def clean_health_override(errors: Errors, value: Any) -> str | None:
    if value is None or value == "":
        return None
    return clean_choice(errors, "health_override", value, HealthOverride.values) or None


def clean_bool(errors: Errors, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        errors.add(field, "Must be true or false.")
        return False
    return value


def clean_visibility(errors: Errors, value: Any) -> str:
    return clean_choice(errors, "visibility", value, Visibility.values)
