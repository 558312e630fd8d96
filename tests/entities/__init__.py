"""Behaviour tests of the entity framework, plus a dict-backed kind for tests that need no rows.

``memory_entity`` defines a throwaway kind whose domain state lives in a plain dict: enough for
derivers, diffs and masking, where no rollback of domain rows is asserted (the dict is not
transactional; use the ``widgets`` fixture for those cases).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from checkstack.entities import define_entity
from checkstack.entities.handle import EntityHandle


class GadgetState(BaseModel):
    """State of a dict-backed test kind: a nested object, an ordered list and an optional field."""

    status: str
    labels: dict[str, Any] = Field(default_factory=dict)
    order: list[str] = Field(default_factory=list)
    owner: str | None = None


class AnyPayload(BaseModel):
    """A trigger payload schema that accepts (and keeps) every field."""

    model_config = ConfigDict(extra="allow")


class MemoryStore:
    """Domain rows of a dict-backed kind; ``read`` hands out copies like a database would."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def read(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: copy.deepcopy(self.rows[i]) for i in ids if i in self.rows}

    def put(self, entity_id: str, state: dict[str, Any]) -> Callable[[Any], None]:
        """An ``apply`` that replaces the entity's row with ``state``."""

        def apply(prev: Any) -> None:
            self.rows[entity_id] = copy.deepcopy(state)

        return apply

    def delete(self, entity_id: str) -> Callable[[Any], None]:
        """An ``apply`` that deletes the entity's row (if any)."""

        def apply(prev: Any) -> None:
            self.rows.pop(entity_id, None)

        return apply


def memory_entity(
    kind: str, state: type[BaseModel] = GadgetState
) -> tuple[EntityHandle[Any], MemoryStore]:
    """Define ``kind`` over a fresh ``MemoryStore`` (call inside ``isolated_registries``)."""
    store = MemoryStore()
    return define_entity(kind=kind, state=state, read=store.read), store
