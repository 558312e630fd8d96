"""Who may use the automation API: managers for automations, any logged-in user for registries."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from checkstack.api.permissions import ReadOrManage


class ManageAutomation(ReadOrManage):
    """``automation.manage_automation`` for every action, reads included (automations hold
    webhook targets and run logic that readers of incidents need not see)."""

    manage_permission = "automation.manage_automation"

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(
            request.user
            and request.user.is_authenticated
            and request.user.has_perm(self.manage_permission)
        )
