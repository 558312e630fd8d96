"""Settings of the automation engine, read from ``django.conf.settings`` on every access."""

from __future__ import annotations

import os

from django.conf import settings


class AutomationSettings:
    prefix = "CHECKSTACK_"

    def _setting(self, name: str, default: object) -> object:
        return getattr(settings, self.prefix + name, default)

    @property
    def SECRETS(self) -> dict[str, str]:
        """Values runs may use as ``{{ secrets.NAME }}``; masked wherever a run stores data.

        Defaults to the environment variables named ``CHECKSTACK_SECRET_<NAME>``.
        """
        configured = self._setting("AUTOMATION_SECRETS", None)
        if configured is not None:
            return {str(k): str(v) for k, v in dict(configured).items()}  # type: ignore[call-overload]
        marker = "CHECKSTACK_SECRET_"
        return {k[len(marker) :]: v for k, v in os.environ.items() if k.startswith(marker)}

    @property
    def STEP_MAX_ATTEMPTS(self) -> int:
        """Starts of one step before a run interrupted again and again is failed."""
        return int(self._setting("RUN_STEP_MAX_ATTEMPTS", 3))  # type: ignore[call-overload]

    @property
    def RUN_STALE_SECONDS(self) -> float:
        """Seconds without progress after which the sweeper re-enqueues a pending or running
        run (a lost enqueue); a crashed worker's running run is taken over after ``LEASE``."""
        return float(self._setting("RUN_STALE_SECONDS", 60.0))  # type: ignore[arg-type]

    @property
    def LEASE(self) -> float:
        """Seconds a worker's claim on in-flight work (a webhook attempt, a run step) lasts;
        the worker renews it every third of that, so a crashed worker's claim soon lapses."""
        return float(self._setting("LEASE_SECONDS", 5.0))  # type: ignore[arg-type]

    @property
    def ONE_HOP(self) -> bool:
        """Whether the worker dispatching a trigger event executes the first run or webhook
        delivery it created itself, right after the dispatch's COMMIT (one queue hop from a
        write to its webhook), instead of enqueueing it. Defaults to the environment variable
        ``CHECKSTACK_ONE_HOP`` (``0``: off), so a worker cluster can be started either way."""
        default = os.environ.get("CHECKSTACK_ONE_HOP", "1").strip().lower() not in {"0", "false"}
        return bool(self._setting("ONE_HOP", default))

    @property
    def RECOVERY_INTERVAL(self) -> float:
        """Seconds between two looks of each worker's recovery watch for lapsed claims; 0 turns
        the watch off (the sweeper then finds them every 30 s)."""
        return float(self._setting("RECOVERY_INTERVAL", 2.0))  # type: ignore[arg-type]

    @property
    def WEBHOOK_ALLOW_PRIVATE(self) -> bool:
        """Allow webhook URLs on loopback, private, link-local and metadata addresses."""
        return bool(self._setting("WEBHOOK_ALLOW_PRIVATE", False))

    @property
    def WEBHOOK_TIMEOUT(self) -> float:
        """Seconds one webhook attempt may take."""
        return float(self._setting("WEBHOOK_TIMEOUT", 10.0))  # type: ignore[arg-type]

    @property
    def WEBHOOK_MAX_ATTEMPTS(self) -> int:
        """Attempts of a webhook delivery before it fails for good."""
        return int(self._setting("WEBHOOK_MAX_ATTEMPTS", 6))  # type: ignore[call-overload]

    @property
    def WEBHOOK_RETRY_BASE(self) -> float:
        """Seconds before the first webhook retry; grows fourfold (6 attempts ≈ 1 hour)."""
        return float(self._setting("WEBHOOK_RETRY_BASE", 10.0))  # type: ignore[arg-type]

    @property
    def WEBHOOK_DISABLE_AFTER(self) -> int:
        """Consecutive failed deliveries after which an endpoint is disabled."""
        return int(self._setting("WEBHOOK_DISABLE_AFTER", 20))  # type: ignore[call-overload]


app_settings = AutomationSettings()
