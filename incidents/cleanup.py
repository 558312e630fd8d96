"""Reacting to catalog changes: a deleted system is removed from its incidents."""

from __future__ import annotations

from checkstack.entities import EntityChange, WorkQueue, on_entity_changed

from .services import remove_system_from_incidents

CLEANUP_GROUP = "incident-system-cleanup"


def on_system_changed(change: EntityChange) -> None:
    """On a ``catalog-system`` tombstone, drop that system from every incident (once)."""
    if change.next is not None:
        return
    remove_system_from_incidents(change.entity_id)


def register() -> None:
    on_entity_changed("catalog-system", on_system_changed, WorkQueue(CLEANUP_GROUP))
