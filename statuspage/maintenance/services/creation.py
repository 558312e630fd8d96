"""Scheduling a maintenance: the entity's first change (``maintenance.scheduled``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from checkstack.actors import ActorLike, to_actor
from checkstack.validation import Errors, clean_choice, clean_optional_text, clean_required_text
from incidents.choices import Visibility
from statuspage.models import Maintenance, MaintenanceSystem

from ..entity import MaintenanceState, maintenance_handle
from .fields import MAX_TITLE, check_systems_exist, check_window, clean_moment, clean_system_ids


def create_maintenance(
    *,
    title: str,
    system_ids: Iterable[str],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    description: str | None = None,
    visibility: str = Visibility.PUBLIC,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> Maintenance:
    """A scheduled maintenance; the schedule starts it at ``starts_at`` (also one already past)
    and completes it at ``ends_at``, which must lie after ``starts_at`` and in the future."""
    errors = Errors()
    title = clean_required_text(errors, "title", title, MAX_TITLE)
    ids = clean_system_ids(errors, list(system_ids) if system_ids is not None else None)
    start = clean_moment(errors, "starts_at", starts_at)
    end = clean_moment(errors, "ends_at", ends_at)
    description = clean_optional_text(errors, "description", description)
    visibility = clean_choice(errors, "visibility", visibility, Visibility.values)
    errors.raise_if_any()
    assert start is not None and end is not None  # or the errors were raised
    check_window(start, end)
    if end <= timezone.now():
        raise ValidationError({"ends_at": ["Must be in the future."]})

    maintenance = Maintenance(
        title=title,
        description=description or "",
        starts_at=start,
        ends_at=end,
        visibility=visibility,
    )

    def apply(prev: MaintenanceState | None) -> None:
        maintenance.save(force_insert=True)
        MaintenanceSystem.objects.bulk_create(
            [MaintenanceSystem(maintenance=maintenance, system_id=s) for s in ids]
        )

    with transaction.atomic():
        check_systems_exist(ids)
        maintenance_handle().mutate(maintenance.pk, apply, actor=to_actor(actor), run_id=run_id)
    return maintenance
