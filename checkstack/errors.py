"""Domain errors shared by every Checkstack app; the API maps each to one HTTP status."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class RegistrationError(ImproperlyConfigured):
    """A kind, deriver, payload mapper, subscriber, trigger or action was registered wrongly."""


class NotFound(LookupError):
    """The addressed object does not exist (404)."""


class Conflict(Exception):
    """The write would break a uniqueness rule (409)."""


class LockTimeout(Exception):
    """Waiting for an entity or advisory lock took longer than the lock timeout (503).

    Nothing was written; the caller may retry.
    """

    def __init__(self, key: str, timeout: float) -> None:
        super().__init__(f"Timed out after {timeout:g}s waiting for lock {key!r}")
        self.key = key
        self.timeout = timeout


class UnknownTrigger(LookupError):
    """A deriver produced a trigger id that is not registered (a bug)."""


class TriggerPayloadInvalid(ValueError):
    """A derived trigger event's payload does not match its trigger's payload schema (a bug)."""
