"""Who did it: turning users and system callers into entity actors, and back to users."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from checkstack.entities.types import SYSTEM_ACTOR, Actor, normalize_actor

ActorLike = AbstractBaseUser | AnonymousUser | Actor | Mapping[str, Any] | None


def to_actor(actor: ActorLike) -> dict[str, Any]:
    """The entity actor dict for a user, an ``Actor``, an actor mapping, or None (system)."""
    if actor is None or isinstance(actor, AnonymousUser):
        return dict(SYSTEM_ACTOR)
    if isinstance(actor, AbstractBaseUser):
        full_name = getattr(actor, "get_full_name", lambda: "")() or None
        return {"type": "user", "id": str(actor.pk), "name": full_name or actor.get_username()}
    return normalize_actor(actor)


def user_of(actor: ActorLike) -> Any:
    """The Django user behind ``actor`` when it is one (for ``created_by`` columns)."""
    if isinstance(actor, AbstractBaseUser) and actor.pk is not None:
        return actor
    return None
