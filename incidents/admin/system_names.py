"""Catalog names of the systems incidents link, for display (incidents know systems by id)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin

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


class SystemColumns:
    """The "systems" column of an admin whose rows link systems (``obj.systems``, rows with a
    ``system_id``), and the read-only stand-in for the ``system_ids`` form field."""

    @admin.display(description="systems")
    def system_list(self, obj: Any) -> str:
        ids = [s.system_id for s in obj.systems.all()]
        names = getattr(obj, "catalog_names", None)
        if names is None:  # outside the changelist, which looks them up for the whole page
            names = system_names(ids)
        return ", ".join(system_label(system_id, names) for system_id in ids)

    @admin.display(description="systems")
    def system_ids(self, obj: Any) -> str:
        """Shown in place of the form field of that name to staff who may only view."""
        return self.system_list(obj)
