"""A test-only authentication backend granting ``incidents.manage_incident`` per incident.

Stands in for object-permission backends (django-guardian, rules): it authenticates nobody and
answers ``has_perm`` only for incident objects listed in ``IncidentGrantBackend.grants``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from incidents.models import Incident

MANAGE = "incidents.manage_incident"
BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "tests.api.backends.IncidentGrantBackend",
]


class IncidentGrantBackend:
    grants: ClassVar[dict[int, set[str]]] = {}  # user pk → incident ids they may manage

    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def get_user(self, user_id: Any) -> None:
        return None

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if perm != MANAGE or not isinstance(obj, Incident) or not user_obj.is_active:
            return False
        return obj.pk in self.grants.get(user_obj.pk, set())
