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

    @property
    def ENQUEUE(self) -> bool:
        """Hand new outbox rows to django-q2 after commit (off: only the sweeper delivers)."""
        return bool(self._setting("ENQUEUE", True))

    @property
    def RETRY_BASE(self) -> float:
        """Seconds before the first retry of a failed delivery; doubles with each attempt."""
        return float(self._setting("DELIVERY_RETRY_BASE", 2.0))  # type: ignore[arg-type]

    @property
    def RETRY_CAP(self) -> float:
        """Longest wait between two attempts of a delivery, in seconds."""
        return float(self._setting("DELIVERY_RETRY_CAP", 600.0))  # type: ignore[arg-type]

    @property
    def SWEEP_GRACE(self) -> float:
        """Seconds a new outbox row may wait for its own enqueue before the sweeper takes it."""
        return float(self._setting("SWEEP_GRACE", 30.0))  # type: ignore[arg-type]

    @property
    def SWEEP_BATCH(self) -> int:
        """Most rows of each table that one sweep re-enqueues."""
        return int(self._setting("SWEEP_BATCH", 500))  # type: ignore[call-overload]

    @property
    def DRAIN_SECONDS(self) -> float:
        """Seconds an outbox task goes on processing other due rows after its own (0: off)."""
        return float(self._setting("DRAIN_SECONDS", 2.0))  # type: ignore[arg-type]

    @property
    def SQLITE_BACKGROUND_CHECKPOINTS(self) -> bool:
        """Checkpoint SQLite's WAL in a background thread instead of in the commit that grows it
        past 1,000 pages (see ``checkstack.entities.checkpoints``)."""
        return bool(self._setting("SQLITE_BACKGROUND_CHECKPOINTS", False))


app_settings = EntitiesSettings()
