"""Read access (public switchable) and manage permissions for writes."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from .conf import api_settings


def can_read(request: Request) -> bool:
    return api_settings.PUBLIC_READ or bool(request.user and request.user.is_authenticated)


class ReadOrManage(BasePermission):
    """Safe methods: anyone when public read is on, else logged-in users.

    Other methods: logged-in users holding ``manage_permission`` (superusers have all).
    Views whose every action is sensitive (history) set ``manage_only_actions``.
    """

    manage_permission = ""

    def has_permission(self, request: Request, view: Any) -> bool:
        action = getattr(view, "action", None)
        if request.method in SAFE_METHODS and action not in getattr(
            view, "manage_only_actions", ()
        ):
            return can_read(request)
        return bool(
            request.user
            and request.user.is_authenticated
            and request.user.has_perm(self.manage_permission)
        )


class ManageIncidents(ReadOrManage):
    manage_permission = "incidents.manage_incident"


class ManageCatalog(ReadOrManage):
    manage_permission = "catalog.manage_catalog"
