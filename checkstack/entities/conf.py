"""Settings of the entity framework, read from ``django.conf.settings`` on every access."""

from __future__ import annotations

from django.conf import settings


class EntitiesSettings:
    prefix = "CHECKSTACK_"

    def _setting(self, name: str, default: object) -> object:
        return getattr(settings, self.prefix + name, default)

    @property
    def LOCK_TIMEOUT(self) -> float:
        """Seconds a write waits for an entity or advisory lock before raising ``LockTimeout``."""
        return float(self._setting("LOCK_TIMEOUT", 5.0))  # type: ignore[arg-type]


app_settings = EntitiesSettings()
