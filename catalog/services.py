"""Catalog services: every write and query of systems and groups.

Writes go through the ``catalog-system`` / ``catalog-group`` entities, so each is locked,
logged and turned into trigger events; ``system_changed`` / ``group_changed`` are sent after
commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from checkstack import references
from checkstack.actors import ActorLike, to_actor
from checkstack.errors import Conflict, NotFound
from checkstack.signals import send_after_commit
from checkstack.validation import (
    UNSET,
    Errors,
    clean_id_list,
    clean_metadata,
    clean_optional_text,
    clean_required_text,
    clean_slug_id,
)

from .entity import group_handle, system_handle
from .models import Group, System, new_id
from .signals import group_changed, system_changed

MAX_NAME = 200


# -- systems --------------------------------------------------------------------------------


def _write_system(
    system_id: str, apply: Any, *, action: str, actor: ActorLike, run_id: str | None
) -> System:
    """One system write through the entity; ``system_changed`` after commit."""
    actor_data = to_actor(actor)
    with transaction.atomic():
        system_handle().mutate(system_id, apply, actor=actor_data, run_id=run_id)
        send_after_commit(
            system_changed, System, system_id=system_id, action=action, actor=actor_data
        )
    return get_system(system_id)


def create_system(
    *,
    name: str,
    id: str | None = None,
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> System:
    errors = Errors()
    name = clean_required_text(errors, "name", name, MAX_NAME)
    system_id = clean_slug_id(errors, "id", id)
    description = clean_optional_text(errors, "description", description)
    metadata = clean_metadata(errors, "metadata", metadata)
    errors.raise_if_any()
    system_id = system_id or new_id()

    def apply(prev: Any) -> None:
        if prev is not None:
            raise Conflict(f"A system with id {system_id!r} already exists.")
        System.objects.create(id=system_id, name=name, description=description, metadata=metadata)

    return _write_system(system_id, apply, action="created", actor=actor, run_id=run_id)


def update_system(
    system_id: str,
    *,
    name: Any = UNSET,
    description: Any = UNSET,
    metadata: Any = UNSET,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> System:
    errors = Errors()
    changes: dict[str, Any] = {}
    if name is not UNSET:
        changes["name"] = clean_required_text(errors, "name", name, MAX_NAME)
    if description is not UNSET:
        changes["description"] = clean_optional_text(errors, "description", description)
    if metadata is not UNSET:
        changes["metadata"] = clean_metadata(errors, "metadata", metadata)
    errors.raise_if_any()

    def apply(prev: Any) -> None:
        if prev is None:
            raise NotFound(f"System {system_id} not found")
        system = System.objects.get(pk=system_id)
        for field, value in changes.items():
            setattr(system, field, value)
        system.save()  # bumps updated_at even when nothing reactive changed

    return _write_system(str(system_id), apply, action="updated", actor=actor, run_id=run_id)


def update_system_metadata(
    system_id: str,
    metadata: dict[str, Any],
    *,
    mode: str = "merge",
    actor: ActorLike = None,
    run_id: str | None = None,
) -> System:
    """Merge ``metadata`` into the system's (top-level keys) or replace it.

    The merge reads the current metadata under the entity lock, so concurrent merges of
    different keys all survive.
    """
    errors = Errors()
    if mode not in ("merge", "replace"):
        errors.add("mode", "Must be 'merge' or 'replace'.")
    metadata = clean_metadata(errors, "metadata", metadata)
    errors.raise_if_any()

    def apply(prev: Any) -> None:
        if prev is None:
            raise NotFound(f"System {system_id} not found")
        system = System.objects.get(pk=system_id)
        merged = {**(system.metadata or {}), **metadata} if mode == "merge" else metadata
        errors = Errors()
        system.metadata = clean_metadata(errors, "metadata", merged)
        errors.raise_if_any()
        system.save()

    return _write_system(str(system_id), apply, action="updated", actor=actor, run_id=run_id)


def delete_system(system_id: str, *, actor: ActorLike = None, run_id: str | None = None) -> None:
    """Remove the system from its groups (group changes), then tombstone it."""
    actor_data = to_actor(actor)
    with transaction.atomic():
        # Lock the row first so no concurrent membership change slips in between.
        if not System.objects.select_for_update().filter(pk=system_id).exists():
            raise NotFound(f"System {system_id} not found")
        group_ids = list(
            Group.systems.through.objects.filter(system_id=system_id)
            .order_by("group_id")
            .values_list("group_id", flat=True)
        )
        for group_id in group_ids:
            _write_group(
                group_id,
                lambda group: group.systems.remove(system_id),
                actor=actor_data,
                run_id=run_id,
            )
        system_handle().remove(
            str(system_id),
            lambda prev: System.objects.filter(pk=system_id).delete(),
            actor=actor_data,
            run_id=run_id,
        )
        send_after_commit(
            system_changed, System, system_id=str(system_id), action="deleted", actor=actor_data
        )


def get_system(system_id: str) -> System:
    system = System.objects.prefetch_related("groups").filter(pk=system_id).first()
    if system is None:
        raise NotFound(f"System {system_id} not found")
    return system


def list_systems(*, search: str | None = None) -> QuerySet[System]:
    systems = System.objects.prefetch_related("groups").order_by("name", "id")
    if search:
        systems = systems.filter(name__icontains=search.strip())
    return systems


# -- groups ---------------------------------------------------------------------------------


def _check_systems_exist(errors: Errors, system_ids: list[str]) -> None:
    missing = references.lock_and_find_missing("system", system_ids)
    if missing:
        errors.add("system_ids", f"Unknown system ids: {', '.join(missing)}.")


def _write_group(group_id: str, change: Any, *, actor: dict[str, Any], run_id: str | None) -> None:
    def apply(prev: Any) -> None:
        if prev is None:
            raise NotFound(f"Group {group_id} not found")
        group = Group.objects.get(pk=group_id)
        change(group)
        group.save()

    group_handle().mutate(str(group_id), apply, actor=actor, run_id=run_id)
    send_after_commit(group_changed, Group, group_id=str(group_id), action="updated", actor=actor)


def create_group(
    *,
    name: str,
    id: str | None = None,
    metadata: dict[str, Any] | None = None,
    system_ids: Iterable[str] = (),
    actor: ActorLike = None,
    run_id: str | None = None,
) -> Group:
    errors = Errors()
    name = clean_required_text(errors, "name", name, MAX_NAME)
    group_id = clean_slug_id(errors, "id", id) or new_id()
    metadata = clean_metadata(errors, "metadata", metadata)
    members = clean_id_list(errors, "system_ids", list(system_ids))
    errors.raise_if_any()
    actor_data = to_actor(actor)
    with transaction.atomic():
        _check_systems_exist(errors, members)
        errors.raise_if_any()

        def apply(prev: Any) -> None:
            if prev is not None:
                raise Conflict(f"A group with id {group_id!r} already exists.")
            group = Group.objects.create(id=group_id, name=name, metadata=metadata)
            group.systems.set(members)  # type: ignore[arg-type]  # primary keys

        group_handle().mutate(group_id, apply, actor=actor_data, run_id=run_id)
        send_after_commit(
            group_changed, Group, group_id=group_id, action="created", actor=actor_data
        )
    return get_group(group_id)


def update_group(
    group_id: str,
    *,
    name: Any = UNSET,
    metadata: Any = UNSET,
    system_ids: Any = UNSET,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> Group:
    errors = Errors()
    changes: dict[str, Any] = {}
    if name is not UNSET:
        changes["name"] = clean_required_text(errors, "name", name, MAX_NAME)
    if metadata is not UNSET:
        changes["metadata"] = clean_metadata(errors, "metadata", metadata)
    members = UNSET
    if system_ids is not UNSET:
        members = clean_id_list(errors, "system_ids", system_ids)
    errors.raise_if_any()
    actor_data = to_actor(actor)

    def change(group: Group) -> None:
        for field, value in changes.items():
            setattr(group, field, value)
        if members is not UNSET:
            group.systems.set(members)  # type: ignore[arg-type]  # primary keys

    with transaction.atomic():
        if members is not UNSET:
            _check_systems_exist(errors, members)
            errors.raise_if_any()
        _write_group(group_id, change, actor=actor_data, run_id=run_id)
    return get_group(group_id)


def set_group_members(
    group_id: str, system_ids: Iterable[str], *, actor: ActorLike = None
) -> Group:
    return update_group(group_id, system_ids=list(system_ids), actor=actor)


def delete_group(group_id: str, *, actor: ActorLike = None, run_id: str | None = None) -> None:
    actor_data = to_actor(actor)

    def apply(prev: Any) -> None:
        if prev is None:
            raise NotFound(f"Group {group_id} not found")
        Group.objects.filter(pk=group_id).delete()

    with transaction.atomic():
        group_handle().remove(str(group_id), apply, actor=actor_data, run_id=run_id)
        send_after_commit(
            group_changed, Group, group_id=str(group_id), action="deleted", actor=actor_data
        )


def get_group(group_id: str) -> Group:
    group = Group.objects.prefetch_related("systems").filter(pk=group_id).first()
    if group is None:
        raise NotFound(f"Group {group_id} not found")
    return group


def list_groups(*, search: str | None = None) -> QuerySet[Group]:
    groups = Group.objects.prefetch_related("systems").order_by("name", "id")
    if search:
        groups = groups.filter(name__icontains=search.strip())
    return groups
