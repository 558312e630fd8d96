"""API settings, read from ``django.conf.settings`` on every access."""

from __future__ import annotations

from django.conf import settings


def _limit(name: str, default: float | None) -> float | None:
    value = getattr(settings, name, default)
    return None if value is None else float(value)


class ApiSettings:
    @property
    def PUBLIC_READ(self) -> bool:
        """Anonymous users may read incidents and the catalog (else reads need a login)."""
        return bool(getattr(settings, "CHECKSTACK_PUBLIC_READ", True))

    @property
    def RETRY_AFTER(self) -> int:
        """Seconds a client is told to wait after a lock wait timed out or while the database
        is unreachable (503)."""
        return int(getattr(settings, "CHECKSTACK_RETRY_AFTER", 2))

    @property
    def HEALTH_VERBOSE_PUBLIC(self) -> bool:
        """Anonymous users get the ``/healthz?verbose`` figures (else staff or a token only)."""
        return bool(getattr(settings, "CHECKSTACK_HEALTH_VERBOSE_PUBLIC", False))

    @property
    def HEALTH_MAX_OUTBOX_AGE(self) -> float | None:
        """Seconds the oldest pending outbox row may wait before ``/healthz`` is 503."""
        return _limit("CHECKSTACK_HEALTH_MAX_OUTBOX_AGE", 300.0)

    @property
    def HEALTH_MAX_STALLED_RUNS(self) -> float | None:
        """Stalled automation runs (no progress for ``RUN_STALE_SECONDS``) tolerated."""
        return _limit("CHECKSTACK_HEALTH_MAX_STALLED_RUNS", 0)

    @property
    def HEALTH_MAX_WEBHOOK_AGE(self) -> float | None:
        """Seconds a webhook delivery may be due (its retry time passed) and not yet sent."""
        return _limit("CHECKSTACK_HEALTH_MAX_WEBHOOK_AGE", 900.0)

    @property
    def HEALTH_MAX_DISABLED_ENDPOINTS(self) -> float | None:
        """Webhook endpoints disabled after failures tolerated (``None``: not checked)."""
        return _limit("CHECKSTACK_HEALTH_MAX_DISABLED_ENDPOINTS", None)

    @property
    def HEALTH_MAX_HEARTBEAT_AGE(self) -> float | None:
        """Seconds since a worker last swept (``None``: not checked, the default)."""
        return _limit("CHECKSTACK_HEALTH_MAX_HEARTBEAT_AGE", None)


api_settings = ApiSettings()
