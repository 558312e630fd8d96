"""Input rules shared by services, admin forms and the API: one message per rule.

Services raise ``django.core.exceptions.ValidationError`` with a field → messages dict; the
admin shows it on the form and the API answers 400 with the same dict.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError

SLUG_ID = re.compile(r"^[a-z0-9][a-z0-9\-_.]{0,99}$")
MAX_METADATA_BYTES = 64 * 1024


NUL_MESSAGE = "Null characters are not allowed."
SURROGATE_MESSAGE = "Unpaired surrogate characters (U+D800 to U+DFFF) are not allowed."
NON_FINITE_MESSAGE = "Numbers must be finite: no Infinity, NaN or out-of-range values."
MAX_JSON_DEPTH = 32
DEPTH_MESSAGE = f"Nested deeper than {MAX_JSON_DEPTH} levels."

_SURROGATE = re.compile("[\ud800-\udfff]")


def storage_problem(value: Any, *, allow_nul: bool = False) -> str | None:
    """Why ``value`` (a string, or JSON data with its keys) cannot be stored and served back,
    or None. NUL characters: PostgreSQL text and JSON columns cannot hold them; unpaired
    surrogates: no UTF-8 encoding exists for them, so a row holding one could not be
    rendered; Infinity and NaN: not JSON; nesting deeper than ``MAX_JSON_DEPTH``.
    Walks ``value`` without recursion, so any depth the JSON decoder accepted is safe here."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not allow_nul and "\x00" in item:
                return NUL_MESSAGE
            if _SURROGATE.search(item):
                return SURROGATE_MESSAGE
        elif isinstance(item, float):
            if not math.isfinite(item):
                return NON_FINITE_MESSAGE
        elif isinstance(item, (dict, list, tuple)):
            if depth >= MAX_JSON_DEPTH:
                return DEPTH_MESSAGE
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
    return None


class Errors:
    """Collects field errors so one call reports every bad field at once."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.by_field.setdefault(field, []).append(message)

    def unstorable(self, field: str, value: Any) -> bool:
        """Adds ``value``'s ``storage_problem`` to ``field``; True if it had one."""
        problem = storage_problem(value)
        if problem:
            self.add(field, problem)
        return problem is not None

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ValidationError(self.by_field)


def clean_required_text(errors: Errors, field: str, value: Any, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.add(field, "This field may not be blank.")
        return ""
    value = value.strip()
    if len(value) > max_length:
        errors.add(field, f"Ensure this field has no more than {max_length} characters.")
    errors.unstorable(field, value)
    return value


def clean_optional_text(errors: Errors, field: str, value: Any) -> str | None:
    """``None`` and blank strings mean "no value"."""
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(field, "Must be a string or null.")
        return None
    if errors.unstorable(field, value):
        return None
    return value if value.strip() else None


def clean_metadata(errors: Errors, field: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(field, "Must be a JSON object.")
        return {}
    if errors.unstorable(field, value):
        return {}
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        errors.add(field, f"Must be at most 64 KiB when serialized (got {size} bytes).")
    return value


def clean_slug_id(errors: Errors, field: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not SLUG_ID.match(value):
        errors.add(
            field,
            "Must be a slug: lower-case letters, digits, '-', '_' or '.', starting with a letter "
            "or digit, at most 100 characters.",
        )
        return None
    return value


def clean_id_list(
    errors: Errors, field: str, value: Any, *, min_items: int = 0, max_items: int | None = None
) -> list[str]:
    """A list of non-empty string ids, duplicates collapsed in first-seen order."""
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        errors.add(field, "Must be a list of non-empty id strings.")
        return []
    if errors.unstorable(field, value):
        return []
    ids = list(dict.fromkeys(v.strip() for v in value))
    if len(ids) < min_items:
        errors.add(field, f"Give at least {min_items} id{'s' if min_items > 1 else ''}.")
    if max_items is not None and len(ids) > max_items:
        errors.add(field, f"Give at most {max_items} ids.")
    if any(len(v) > 255 for v in ids):
        errors.add(field, "Ids are at most 255 characters.")
    return ids


def clean_choice(errors: Errors, field: str, value: Any, choices: Iterable[str]) -> str:
    allowed = list(choices)
    if value not in allowed:
        errors.add(field, f"{value!r} is not a valid choice; use one of: {', '.join(allowed)}.")
        return ""
    return str(value)


class _Unset:
    """Marks an optional service argument that the caller did not give."""

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()
