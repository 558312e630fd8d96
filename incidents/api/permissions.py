"""Who may read what, and who may write which incident."""

from __future__ import annotations

from typing import Any

from ..models import Incident
from ..services import Audience

MANAGE = "incidents.manage_incident"


def audience_for(user: Any) -> Audience:
    if user is None or not user.is_authenticated:
        return Audience.PUBLIC
    if user.has_perm(MANAGE):
        return Audience.MANAGER
    return Audience.LOGGED_IN


def may_manage(user: Any, incident: Incident) -> bool:
    """Global manage permission, or an object permission from a backend that grants those."""
    return bool(
        user.is_authenticated and (user.has_perm(MANAGE) or user.has_perm(MANAGE, incident))
    )
