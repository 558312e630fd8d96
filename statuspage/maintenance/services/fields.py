"""Validation of a maintenance's own fields, shared by creating and changing one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError

from checkstack import references
from checkstack.validation import Errors, clean_id_list

MAX_TITLE = 200
MAX_MESSAGE = 100_000
WINDOW_MESSAGE = "Must be after starts_at."


def clean_system_ids(errors: Errors, system_ids: Any) -> list[str]:
    return sorted(clean_id_list(errors, "system_ids", system_ids, min_items=1))


def check_systems_exist(system_ids: list[str]) -> None:
    """Inside the write transaction: unknown catalog systems → 400 (no check without catalog);
    the known ones stay locked against deletes until it ends."""
    missing = references.lock_and_find_missing("system", system_ids)
    if missing:
        raise ValidationError({"system_ids": [f"Unknown system ids: {', '.join(missing)}."]})


def clean_moment(errors: Errors, field: str, value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        errors.add(field, "Must be a timezone-aware date and time.")
        return None
    return value


def check_window(starts_at: dt.datetime | None, ends_at: dt.datetime | None) -> None:
    """The window ends after it starts (what the table's check constraint also holds)."""
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ValidationError({"ends_at": [WINDOW_MESSAGE]})
