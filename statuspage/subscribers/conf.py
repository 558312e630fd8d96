"""Settings of the subscribers concern, read from ``django.conf.settings`` on every access."""

from __future__ import annotations

from django.conf import settings


class SubscriberSettings:
    prefix = "CHECKSTACK_SUBSCRIBERS_"

    def _setting(self, name: str, default: object) -> object:
        return getattr(settings, self.prefix + name, default)

    @property
    def SITE_URL(self) -> str:
        """Scheme and host that links in emails start with (``CHECKSTACK_SITE_URL``)."""
        return str(getattr(settings, "CHECKSTACK_SITE_URL", "http://127.0.0.1:8000")).rstrip("/")

    @property
    def CONFIRM_MAX_AGE(self) -> int:
        """Seconds a confirmation link stays valid (default 7 days)."""
        return int(self._setting("CONFIRM_MAX_AGE", 7 * 24 * 3600))  # type: ignore[call-overload]

    @property
    def RESEND_INTERVAL(self) -> int:
        """Seconds before subscribing the same address again mails it again (anti-spam)."""
        return int(self._setting("RESEND_INTERVAL", 300))  # type: ignore[call-overload]

    @property
    def BATCH_SIZE(self) -> int:
        """Notifications one send task handles (one task per batch, one SMTP connection)."""
        return max(1, int(self._setting("BATCH_SIZE", 200)))  # type: ignore[call-overload]

    @property
    def MAX_ATTEMPTS(self) -> int:
        """Attempts of one notification before it fails for good."""
        return max(1, int(self._setting("MAX_ATTEMPTS", 6)))  # type: ignore[call-overload]

    @property
    def RETRY_BASE(self) -> float:
        """Seconds before the first retry; grows fourfold (6 attempts: about 1.5 hours)."""
        return float(self._setting("RETRY_BASE", 30.0))  # type: ignore[arg-type]

    @property
    def CLAIM_SECONDS(self) -> float:
        """Seconds a worker owns the batch it claimed; after that it is presumed dead and the
        sweeper hands the unsent rest to another worker."""
        return float(self._setting("CLAIM_SECONDS", 300.0))  # type: ignore[arg-type]

    @property
    def SWEEP_BATCH(self) -> int:
        """Most due notifications one sweep re-enqueues."""
        return int(self._setting("SWEEP_BATCH", 5000))  # type: ignore[call-overload]


app_settings = SubscriberSettings()
