"""Catalog names of the systems incidents link, for display (incidents know systems by id)."""

from __future__ import annotations

from collections.abc import Iterable

from checkstack.entities.registry import find_handle


def system_names(system_ids: Iterable[str]) -> dict[str, str]:
    """Catalog names of the given systems in one read, through the ``catalog-system`` entity
    (incidents know systems only by id); empty when the catalog is not installed."""
    handle = find_handle("catalog-system")
    if handle is None:
        return {}
    return {system_id: state.name for system_id, state in handle.get_many(system_ids).items()}


def system_label(system_id: str, names: dict[str, str]) -> str:
    name = names.get(system_id)
    return f"{name} ({system_id})" if name and name != system_id else system_id
