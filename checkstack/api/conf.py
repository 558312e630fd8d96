"""API settings, read from ``django.conf.settings`` on every access."""

from __future__ import annotations

from django.conf import settings


class ApiSettings:
    @property
    def PUBLIC_READ(self) -> bool:
        """Anonymous users may read incidents and the catalog (else reads need a login)."""
        return bool(getattr(settings, "CHECKSTACK_PUBLIC_READ", True))

    @property
    def RETRY_AFTER(self) -> int:
        """Seconds a client is told to wait after a lock wait timed out (503)."""
        return int(getattr(settings, "CHECKSTACK_RETRY_AFTER", 2))


api_settings = ApiSettings()
