"""Admin of the status page app (one module per concern, registered on import)."""

from .maintenance import admin as maintenance_admin  # noqa: F401
from .subscribers import admin as subscribers_admin  # noqa: F401
