"""Reactive entity framework: every change of domain state is locked, logged and derived.

Public API (names are part of the contract, see shared/spec/entities.md). The names are loaded
on first use (PEP 562): Django imports this package while it loads the apps, before any model
can be, and the modules behind these names import the models at module level.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .handle import EntityHandle, define_entity
    from .locks import advisory_lock
    from .masking import forget_run, register_run_secret
    from .registry import on_entity_changed, register_change_deriver
    from .signals import entity_changed
    from .types import SYSTEM_ACTOR, Actor, Broadcast, EntityChange, WorkQueue

_EXPORTS = {
    "SYSTEM_ACTOR": "types",
    "Actor": "types",
    "Broadcast": "types",
    "EntityChange": "types",
    "EntityHandle": "handle",
    "WorkQueue": "types",
    "advisory_lock": "locks",
    "define_entity": "handle",
    "entity_changed": "signals",
    "forget_run": "masking",
    "on_entity_changed": "registry",
    "register_change_deriver": "registry",
    "register_run_secret": "masking",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
