"""The incidents admin (moved into a package; split by responsibility in the next commit)."""

from .incident_admin import IncidentAdmin

__all__ = ["IncidentAdmin"]
