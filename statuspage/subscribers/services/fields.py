"""Validation of what a subscription is made of: an address and its topics."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from checkstack.errors import NotFound
from checkstack.validation import Errors, clean_id_list

from .. import topics

MAX_EMAIL = 254
MAX_TOPICS = 500


def clean_email(errors: Errors, field: str, value: Any) -> str:
    """A valid address, stripped and lower-cased (so one mailbox is one subscriber)."""
    if not isinstance(value, str) or not value.strip():
        errors.add(field, "Enter an email address.")
        return ""
    email = value.strip().lower()
    if errors.unstorable(field, email):
        return ""
    if len(email) > MAX_EMAIL:
        errors.add(field, f"An email address has at most {MAX_EMAIL} characters.")
        return ""
    try:
        validate_email(email)
    except ValidationError:
        errors.add(field, "Enter a valid email address.")
        return ""
    return email


def clean_topic_ids(errors: Errors, field: str, value: Any) -> list[str]:
    """A list of ids (None or absent: none), duplicates collapsed, sorted."""
    if value is None:
        return []
    return sorted(clean_id_list(errors, field, value, max_items=MAX_TOPICS))


def check_topics_exist(system_ids: list[str], group_ids: list[str]) -> None:
    """Inside the write transaction: unknown systems or groups → ``ValidationError``."""
    errors = Errors()
    missing_systems = topics.missing_system_ids(system_ids)
    if missing_systems:
        errors.add("system_ids", f"Unknown system ids: {', '.join(missing_systems)}.")
    missing_groups = topics.missing_group_ids(group_ids)
    if missing_groups:
        errors.add("group_ids", f"Unknown group ids: {', '.join(missing_groups)}.")
    errors.raise_if_any()


def subscriber_pk(value: Any) -> uuid.UUID:
    """A subscriber id from a URL or a body; anything but a UUID is not found."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"Subscriber {value} not found") from None
