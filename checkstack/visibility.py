"""Who may read what: the visibilities of incidents, maintenances and their updates that a user
may see (anonymous: public; logged in: also logged_in; managers: also internal)."""

from __future__ import annotations

from typing import Any

PUBLIC = "public"
LOGGED_IN = "logged_in"
INTERNAL = "internal"
MANAGE_PERMISSION = "incidents.manage_incident"

ANONYMOUS_VISIBILITIES = frozenset({PUBLIC})
LOGGED_IN_VISIBILITIES = frozenset({PUBLIC, LOGGED_IN})
MANAGER_VISIBILITIES = frozenset({PUBLIC, LOGGED_IN, INTERNAL})


def visibilities_for(user: Any) -> frozenset[str]:
    """The visibilities ``user`` (a Django user, anonymous or None) may read."""
    if user is None or not user.is_authenticated:
        return ANONYMOUS_VISIBILITIES
    if user.has_perm(MANAGE_PERMISSION):
        return MANAGER_VISIBILITIES
    return LOGGED_IN_VISIBILITIES
