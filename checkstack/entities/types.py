"""Value types of the entity framework: actors, changes and delivery modes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from checkstack.errors import RegistrationError

JSONDict = dict[str, Any]


class Actor(BaseModel):
    """Who caused a change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["system", "user", "application", "service"]
    id: str = Field(min_length=1)
    name: str | None = None


SYSTEM_ACTOR: JSONDict = {"type": "system", "id": "system", "name": "System"}


def normalize_actor(actor: Actor | Mapping[str, Any] | None) -> JSONDict:
    """Validate an actor given as a mapping or ``Actor`` and return it as a plain dict."""
    if actor is None:
        return dict(SYSTEM_ACTOR)
    if isinstance(actor, Actor):
        return actor.model_dump()
    return Actor.model_validate(dict(actor)).model_dump()


@dataclasses.dataclass(frozen=True)
class EntityChange:
    """One committed, non-empty difference of one entity (``next`` is None on a tombstone)."""

    change_id: uuid.UUID
    kind: str
    entity_id: str
    seq: int
    prev: JSONDict | None
    next: JSONDict | None
    delta: JSONDict
    changed_fields: list[str]
    actor: JSONDict
    run_id: str | None
    occurred_at: dt.datetime
    request_id: str | None = None

    @property
    def is_create(self) -> bool:
        return self.prev is None

    @property
    def is_tombstone(self) -> bool:
        return self.next is None


@dataclasses.dataclass(frozen=True)
class WorkQueue:
    """Durable delivery: one outbox row per (change, group), handled exactly once by a worker."""

    group: str
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if not isinstance(self.group, str) or not self.group.strip():
            raise RegistrationError("WorkQueue needs a non-empty group name")
        if len(self.group) > 100:
            raise RegistrationError("WorkQueue group names are at most 100 characters")
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise RegistrationError("WorkQueue max_attempts must be a positive integer")


@dataclasses.dataclass(frozen=True)
class Broadcast:
    """Best effort: called after commit in the committing process; errors are logged."""
