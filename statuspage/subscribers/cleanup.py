"""A deleted catalog system or group is dropped from every subscriber's topics (once per
tombstone, through a work queue), so no topic names something that no longer exists."""

from __future__ import annotations

from checkstack.entities import EntityChange, WorkQueue, on_entity_changed

from . import services
from .choices import TopicKind

GROUP = "statuspage-subscriber-topics"


def on_system_changed(change: EntityChange) -> None:
    if change.next is None:
        services.forget_topic(TopicKind.SYSTEM, change.entity_id)


def on_group_changed(change: EntityChange) -> None:
    if change.next is None:
        services.forget_topic(TopicKind.GROUP, change.entity_id)


def register() -> None:
    on_entity_changed("catalog-system", on_system_changed, WorkQueue(GROUP))
    on_entity_changed("catalog-group", on_group_changed, WorkQueue(GROUP))
