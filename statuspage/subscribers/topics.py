"""What subscribers can choose from and what an event concerns: catalog systems and groups.

The catalog is optional (``django.apps.apps.is_installed("catalog")``): without it, system ids
are taken as they are (like incidents do) and there are no groups to choose.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from django.apps import apps
from django.db.models import QuerySet

from checkstack import references


def has_catalog() -> bool:
    return apps.is_installed("catalog")


def missing_system_ids(system_ids: Iterable[str]) -> list[str]:
    """Ids (in input order) that are not catalog systems; [] without the catalog."""
    return references.lock_and_find_missing("system", system_ids)


def missing_group_ids(group_ids: Iterable[str]) -> list[str]:
    """Ids (in input order) that are not catalog groups; all of them without the catalog."""
    wanted = list(dict.fromkeys(group_ids))
    if not wanted or not has_catalog():
        return wanted
    from catalog import services as catalog

    found = set(catalog.list_groups().filter(pk__in=wanted).values_list("pk", flat=True))
    return [g for g in wanted if g not in found]


def groups_containing(system_ids: Collection[str]) -> QuerySet | list[str]:
    """Ids of the groups with any of ``system_ids``: a subquery (not run here) with the catalog."""
    if not has_catalog() or not system_ids:
        return []
    from catalog.models import Group

    return Group.systems.through.objects.filter(system_id__in=list(system_ids)).values("group_id")


def system_choices() -> list[tuple[str, str]]:
    """``(id, name)`` of every catalog system, by name; [] without the catalog."""
    if not has_catalog():
        return []
    from catalog import services as catalog

    return list(catalog.list_systems().prefetch_related(None).values_list("id", "name"))


def group_choices() -> list[tuple[str, str]]:
    if not has_catalog():
        return []
    from catalog import services as catalog

    return list(catalog.list_groups().prefetch_related(None).values_list("id", "name"))


def system_names(system_ids: Iterable[str]) -> list[str]:
    """Names of the given systems (their ids where the catalog does not know them)."""
    ids = list(dict.fromkeys(system_ids))
    names: dict[str, str] = {}
    if has_catalog() and ids:
        from catalog import services as catalog

        names = dict(
            catalog.list_systems()
            .prefetch_related(None)
            .filter(pk__in=ids)
            .values_list("id", "name")
        )
    return [names.get(i, i) for i in ids]
