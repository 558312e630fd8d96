"""Subscribers are personal data: every endpoint, reads included, needs the manage permission."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

MANAGE = "incidents.manage_incident"


class ManageSubscribers(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(MANAGE))
