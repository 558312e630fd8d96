"""Reactive entity framework: every change of domain state is locked, logged and derived.

Public API (names are part of the contract, see shared/spec/entities.md).
"""

from .handle import EntityHandle, define_entity
from .locks import advisory_lock
from .masking import forget_run, register_run_secret
from .registry import on_entity_changed, register_change_deriver
from .signals import entity_changed
from .types import SYSTEM_ACTOR, Actor, Broadcast, EntityChange, WorkQueue

__all__ = [
    "SYSTEM_ACTOR",
    "Actor",
    "Broadcast",
    "EntityChange",
    "EntityHandle",
    "WorkQueue",
    "advisory_lock",
    "define_entity",
    "entity_changed",
    "forget_run",
    "on_entity_changed",
    "register_change_deriver",
    "register_run_secret",
]
